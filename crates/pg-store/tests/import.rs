//! `PgStore::import`: upserts every kind, counts per table, idempotent, fast enough.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use maestro_domain::entities::{MailFilter, OrderingEntityType, SessionFilter, TaskFilter};
use maestro_domain::testing::fixtures::{self, T0};
use maestro_pg_store::{ImportCounts, ImportData};
use serde_json::json;

use common::{TestSchema, database_url};

fn data() -> ImportData {
    let mut task = fixtures::task("task_1", "proj_1", T0);
    task.extra = fixtures::extra();
    let mut orphan = fixtures::task("task_orphan", "proj_deleted", T0 + 1);
    orphan.parent_id = Some("task_gone".into());
    let mut member = fixtures::member("tm_1", "proj_1", "2026-01-01T00:00:00.000Z");
    member.extra = fixtures::extra();
    ImportData {
        projects: vec![fixtures::project("proj_1", T0)],
        tasks: vec![task, orphan],
        sessions: vec![
            fixtures::session("sess_1", "proj_1", T0),
            fixtures::session("sess_orphan", "proj_deleted", T0),
        ],
        mail: vec![fixtures::mail("mail_1", "proj_1", "sess_1", None, T0)],
        team_members: vec![member],
        team_member_overrides: vec![(
            "proj_1".into(),
            "tm_proj_1_coordinator".into(),
            json!({"name": "Boss"}).as_object().cloned().unwrap(),
        )],
        orderings: vec![fixtures::ordering(
            "proj_1",
            OrderingEntityType::Task,
            &["task_1"],
            T0,
        )],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_twice_gives_the_same_rows() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let store = schema.migrated_store(2).await;
    let data = data();
    let expected = ImportCounts {
        tables: vec![
            ("projects", 1),
            ("tasks", 2),
            ("sessions", 2),
            ("mail", 1),
            ("team_members", 2),
            ("orderings", 1),
        ],
    };
    assert_eq!(store.import(&data).await.unwrap(), expected);
    let snapshot = || async {
        (
            store.projects.list().await.unwrap(),
            store.tasks.list(&TaskFilter::default()).await.unwrap(),
            store
                .sessions
                .list(&SessionFilter::default())
                .await
                .unwrap(),
            store
                .mail
                .inbox("sess_1", "proj_1", &MailFilter::default())
                .await
                .unwrap(),
            store.team_members.list_custom("proj_1").await.unwrap(),
            store
                .team_members
                .get_override("proj_1", "tm_proj_1_coordinator")
                .await
                .unwrap(),
            store
                .orderings
                .get("proj_1", OrderingEntityType::Task)
                .await
                .unwrap(),
        )
    };
    let first = snapshot().await;
    assert_eq!(first.0, data.projects);
    assert_eq!(first.1, data.tasks, "orphans are imported, extra kept");
    assert_eq!(first.2.len(), 2);
    assert_eq!(first.3, data.mail);
    assert_eq!(first.4, data.team_members);
    assert_eq!(first.5, Some(data.team_member_overrides[0].2.clone()));
    assert_eq!(first.6.as_ref(), data.orderings.first());

    // Again: same counts (upserts), same rows.
    assert_eq!(store.import(&data).await.unwrap(), expected);
    assert_eq!(snapshot().await, first);

    // A changed entity is updated in place.
    let mut changed = data.clone();
    changed.tasks[0].title = "Renamed".into();
    store.import(&changed).await.unwrap();
    assert_eq!(
        store.tasks.get("task_1").await.unwrap().unwrap().title,
        "Renamed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_tasks_import_in_one_batch() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let store = schema.migrated_store(2).await;
    let data = ImportData {
        tasks: (0..20_000)
            .map(|i| {
                let mut t = fixtures::task(&format!("task_{i:05}"), "proj_1", T0 + i);
                t.session_ids = vec![format!("sess_{}", i % 7)];
                t
            })
            .collect(),
        ..Default::default()
    };
    let started = Instant::now();
    let counts = store.import(&data).await.unwrap();
    let took = started.elapsed();
    assert_eq!(counts.tables[1], ("tasks", 20_000));
    // Speed belongs to `cargo xtask bench --backend postgres`; this only reports it.
    eprintln!("imported 20000 tasks in {took:?}");
    let listed = store
        .tasks
        .list(&TaskFilter {
            project_id: Some("proj_1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 20_000);
    assert_eq!(listed.first().map(|t| t.id.as_str()), Some("task_00000"));
}
