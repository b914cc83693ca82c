//! OrderingService behaviour (ref §3.7, §4.6) against the in-memory adapters.

#![allow(clippy::unwrap_used)]

mod support;

use maestro_domain::entities::OrderingEntityType;
use support::*;

#[tokio::test]
async fn get_returns_empty_default_until_saved() {
    let h = harness();
    let o = h
        .app
        .orderings
        .get("proj_1", OrderingEntityType::Session)
        .await
        .unwrap();
    assert_eq!(o.project_id, "proj_1");
    assert_eq!(o.entity_type, OrderingEntityType::Session);
    assert!(o.ordered_ids.is_empty());
    assert_eq!(o.updated_at, 0);
    assert_eq!(
        to_json(&o),
        serde_json::json!({"projectId": "proj_1", "entityType": "session", "orderedIds": [], "updatedAt": 0})
    );
}

#[tokio::test]
async fn save_replaces_per_type_without_events_or_validation() {
    let h = harness();
    let mut sub = h.subscribe();
    h.tick(10);
    let saved = h
        .app
        .orderings
        .save(
            "proj_1",
            OrderingEntityType::Task,
            vec!["b".into(), "a".into(), "ghost".into()],
        )
        .await
        .unwrap();
    assert_eq!(saved.updated_at, T0 + 10);
    assert_eq!(
        saved.ordered_ids,
        vec!["b", "a", "ghost"],
        "ids are not validated"
    );
    h.tick(10);
    h.app
        .orderings
        .save("proj_1", OrderingEntityType::Task, vec!["a".into()])
        .await
        .unwrap();
    let task = h
        .app
        .orderings
        .get("proj_1", OrderingEntityType::Task)
        .await
        .unwrap();
    assert_eq!(task.ordered_ids, vec!["a"]);
    assert_eq!(task.updated_at, T0 + 20);
    let session = h
        .app
        .orderings
        .get("proj_1", OrderingEntityType::Session)
        .await
        .unwrap();
    assert!(
        session.ordered_ids.is_empty(),
        "task and session orderings are separate"
    );
    expect_no_events(&mut sub);
}
