//! ProjectService behaviour (ref §3.1, spec §2) against the in-memory adapters.

#![allow(clippy::unwrap_used)]

mod support;

use maestro_domain::entities::{OrderingEntityType, ProjectPatch};
use maestro_domain::events::names as ev;
use maestro_domain::services::CreateProject;
use serde_json::json;
use support::*;

#[tokio::test]
async fn create_trims_name_defaults_fields_and_emits_created() {
    let h = harness();
    let mut sub = h.subscribe();
    let p = h
        .app
        .projects
        .create(CreateProject {
            name: Some("  Alpha  ".into()),
            working_dir: None,
            description: None,
            is_master: None,
        })
        .await
        .unwrap();
    assert_eq!(p.name, "Alpha");
    assert_eq!(p.working_dir, "");
    assert_eq!(p.description.as_deref(), Some(""));
    assert_eq!(p.created_at, T0);
    assert_eq!(p.updated_at, T0);
    assert!(p.id.starts_with(&format!("proj_{T0}_")));
    let json = to_json(&p);
    assert_eq!(
        json["description"], "",
        "description is always written on create"
    );
    assert_eq!(json["workingDir"], "");

    let events = expect_events(&mut sub, &[ev::PROJECT_CREATED]);
    envelope(&events[0], ev::PROJECT_CREATED, &p.id, None);
    assert_eq!(events[0].data, json);
}

#[tokio::test]
async fn create_rejects_missing_or_blank_name_without_events() {
    let h = harness();
    let mut sub = h.subscribe();
    for name in [None, Some(""), Some("   \t")] {
        let err = h
            .app
            .projects
            .create(CreateProject {
                name: name.map(Into::into),
                ..CreateProject::default()
            })
            .await
            .unwrap_err();
        expect_err(err, "VALIDATION_ERROR", "Project name is required");
    }
    expect_no_events(&mut sub);
    assert!(h.app.projects.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn get_and_list_in_creation_order() {
    let h = harness();
    let a = h.project("a").await;
    h.tick(5);
    let b = h.project("b").await;
    h.tick(5);
    let c = h.project("c").await;
    assert_eq!(h.app.projects.get(&b.id).await.unwrap(), b);
    let ids: Vec<_> = h
        .app
        .projects
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, vec![a.id, b.id, c.id]);
    let err = h.app.projects.get("proj_missing").await.unwrap_err();
    expect_err(err, "NOT_FOUND", "Project with id 'proj_missing' not found");
}

#[tokio::test]
async fn update_applies_own_fields_bumps_updated_at_and_emits() {
    let h = harness();
    let p = h.project("alpha").await;
    h.tick(1000);
    let mut sub = h.subscribe();
    let updated = h
        .app
        .projects
        .update(
            &p.id,
            ProjectPatch {
                name: Some(" Beta ".into()),
                working_dir: None,
                description: Some("desc".into()),
                is_master: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, " Beta ", "the name is not trimmed on update");
    assert_eq!(updated.working_dir, p.working_dir);
    assert_eq!(updated.description.as_deref(), Some("desc"));
    assert_eq!(updated.created_at, T0);
    assert_eq!(updated.updated_at, T0 + 1000);
    assert_eq!(h.app.projects.get(&p.id).await.unwrap(), updated);
    let events = expect_events(&mut sub, &[ev::PROJECT_UPDATED]);
    envelope(&events[0], ev::PROJECT_UPDATED, &p.id, None);
    assert_eq!(events[0].data, to_json(&updated));
}

#[tokio::test]
async fn update_rejects_blank_name_and_missing_project() {
    let h = harness();
    let p = h.project("alpha").await;
    let mut sub = h.subscribe();
    let err = h
        .app
        .projects
        .update(
            &p.id,
            ProjectPatch {
                name: Some("  ".into()),
                ..ProjectPatch::default()
            },
        )
        .await
        .unwrap_err();
    expect_err(err, "VALIDATION_ERROR", "Project name cannot be empty");
    assert_eq!(h.app.projects.get(&p.id).await.unwrap().name, "alpha");
    let err = h
        .app
        .projects
        .update("proj_nope", ProjectPatch::default())
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Project with id 'proj_nope' not found");
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn delete_refuses_projects_with_tasks_or_sessions() {
    let h = harness();
    let p = h.project("alpha").await;
    let t = h.task(&p, "t").await;
    let mut sub = h.subscribe();
    let err = h.app.projects.delete(&p.id).await.unwrap_err();
    expect_err(
        err,
        "BUSINESS_RULE_ERROR",
        "Cannot delete project with existing tasks",
    );

    // A session alone (no task) also blocks deletion.
    let q = h.project("beta").await;
    h.session(&q, &[]).await;
    drain(&mut sub);
    let err = h.app.projects.delete(&q.id).await.unwrap_err();
    expect_err(
        err,
        "BUSINESS_RULE_ERROR",
        "Cannot delete project with existing sessions",
    );

    // Tasks are checked before sessions.
    h.session(&p, &[&t]).await;
    drain(&mut sub);
    let err = h.app.projects.delete(&p.id).await.unwrap_err();
    expect_err(
        err,
        "BUSINESS_RULE_ERROR",
        "Cannot delete project with existing tasks",
    );

    expect_no_events(&mut sub);
    assert!(h.app.projects.get(&p.id).await.is_ok());
    assert!(h.app.projects.get(&q.id).await.is_ok());
}

#[tokio::test]
async fn delete_removes_project_and_its_orderings_and_emits() {
    let h = harness();
    let p = h.project("alpha").await;
    let other = h.project("other").await;
    for (proj, kind) in [
        (&p, OrderingEntityType::Task),
        (&p, OrderingEntityType::Session),
        (&other, OrderingEntityType::Task),
    ] {
        h.app
            .orderings
            .save(&proj.id, kind, vec!["x".into(), "y".into()])
            .await
            .unwrap();
    }
    let mut sub = h.subscribe();
    h.app.projects.delete(&p.id).await.unwrap();
    let events = expect_events(&mut sub, &[ev::PROJECT_DELETED]);
    envelope(&events[0], ev::PROJECT_DELETED, &p.id, None);
    assert_eq!(events[0].data, json!({ "id": p.id }));

    let err = h.app.projects.get(&p.id).await.unwrap_err();
    assert!(err.is_not_found());
    for kind in [OrderingEntityType::Task, OrderingEntityType::Session] {
        let o = h.app.orderings.get(&p.id, kind).await.unwrap();
        assert!(
            o.ordered_ids.is_empty(),
            "ordering {kind} of a deleted project is gone"
        );
        assert_eq!(o.updated_at, 0);
    }
    let kept = h
        .app
        .orderings
        .get(&other.id, OrderingEntityType::Task)
        .await
        .unwrap();
    assert_eq!(
        kept.ordered_ids,
        vec!["x", "y"],
        "other projects' orderings stay"
    );

    let err = h.app.projects.delete(&p.id).await.unwrap_err();
    expect_err(
        err,
        "NOT_FOUND",
        &format!("Project with id '{}' not found", p.id),
    );
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn set_master_stores_the_flag_and_emits_updated() {
    let h = harness();
    let a = h.project("A").await;
    let b = h.project("B").await;
    let mut sub = h.subscribe();
    let set = h.app.projects.set_master(&a.id, true).await.unwrap();
    assert_eq!(set.is_master(), Some(true));
    let events = expect_events(&mut sub, &[ev::PROJECT_UPDATED]);
    envelope(&events[0], ev::PROJECT_UPDATED, &a.id, None);
    assert_eq!(events[0].data.to_value()["isMaster"], json!(true));
    // Several masters at once, as the reference allows.
    h.app.projects.set_master(&b.id, true).await.unwrap();
    let both: Vec<_> = h.app.projects.list().await.unwrap();
    assert!(both.iter().all(|p| p.is_master() == Some(true)));
    let unset = h.app.projects.set_master(&a.id, false).await.unwrap();
    assert_eq!(unset.is_master(), Some(false), "cleared as a stored false");
    drain(&mut sub);
    assert!(
        h.app
            .projects
            .set_master("proj_nope", true)
            .await
            .unwrap_err()
            .is_not_found()
    );
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn workspace_context_counts_tasks_and_sessions_per_project() {
    let h = harness();
    let a = h.project("A").await;
    let b = h.project("B").await;
    let t = h.task(&a, "t1").await;
    h.task(&a, "t2").await;
    h.session(&a, &[&t]).await;
    let ctx = h.app.projects.workspace_context().await.unwrap();
    assert_eq!(
        serde_json::to_value(&ctx).unwrap(),
        json!({
            "projects": [a, b],
            "taskCounts": { a.id.clone(): 2, b.id.clone(): 0 },
            "sessionCounts": { a.id.clone(): 1, b.id.clone(): 0 },
        })
    );
}
