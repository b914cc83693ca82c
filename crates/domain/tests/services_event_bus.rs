//! The in-memory event bus as the services use it (spec §4): envelopes, ids and the
//! per-project replay log.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use maestro_domain::events::{Event, EventId, NewEvent, Replay, names as ev};
use maestro_domain::memory::ReplayConfig;
use serde_json::json;
use support::*;

fn ids(events: &[Arc<Event>]) -> Vec<String> {
    events.iter().map(|e| e.event_id.clone()).collect()
}

fn replayed(r: Replay) -> Vec<Arc<Event>> {
    match r {
        Replay::Events(v) => v,
        Replay::ResyncRequired => panic!("unexpected ResyncRequired"),
    }
}

async fn emit(h: &Harness, project: &str, n: i64) -> Arc<Event> {
    h.event_bus()
        .emit(NewEvent::new(
            ev::PROJECT_UPDATED,
            project,
            json!({ "n": n }),
        ))
        .await
        .unwrap()
}

#[tokio::test]
async fn event_ids_are_strictly_increasing_even_when_the_clock_stalls_or_goes_back() {
    let h = harness();
    let mut sub = h.subscribe();
    let mut emitted = Vec::new();
    for i in 0..3 {
        emitted.push(emit(&h, "a", i).await);
    }
    h.tick(5);
    emitted.push(emit(&h, "b", 3).await);
    h.clock.set(T0 - 10_000);
    emitted.push(emit(&h, "a", 4).await);
    emitted.push(emit(&h, "b", 5).await);

    let parsed: Vec<EventId> = emitted
        .iter()
        .map(|e| EventId::parse(&e.event_id).unwrap())
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] < w[1]),
        "ids must increase: {parsed:?}"
    );
    assert_eq!(emitted[0].event_id, format!("{T0}-0"));
    assert_eq!(emitted[2].event_id, format!("{T0}-2"));
    assert_eq!(emitted[3].event_id, format!("{}-0", T0 + 5));
    assert_eq!(
        emitted[4].event_id,
        format!("{}-1", T0 + 5),
        "a clock going back never reuses ids"
    );
    assert_eq!(
        emitted[4].timestamp,
        T0 - 10_000,
        "the timestamp is the clock's"
    );
    // Subscribers see exactly what emit returned, in order.
    assert_eq!(drain(&mut sub), emitted);
}

#[tokio::test]
async fn replay_returns_later_events_of_one_project_in_order() {
    let h = harness();
    let p = h.project("p").await;
    let q = h.project("q").await;
    let mut sub = h.subscribe();
    let t = h.task(&p, "t").await;
    h.task(&q, "other").await;
    h.tick(1);
    h.session(&p, &[&t]).await;
    h.app
        .projects
        .update(&q.id, Default::default())
        .await
        .unwrap();
    let live = drain(&mut sub);
    let live_p: Vec<_> = live
        .iter()
        .filter(|e| e.project_id == p.id)
        .cloned()
        .collect();
    assert_eq!(
        names(&live_p),
        vec![
            ev::TASK_CREATED,
            ev::SESSION_CREATED,
            ev::TASK_SESSION_ADDED
        ]
    );

    let bus = h.event_bus();
    // After the first p event of this batch: the rest of p, none of q, no duplicates.
    let after = replayed(bus.replay_since(&p.id, &live_p[0].event_id).await.unwrap());
    assert_eq!(ids(&after), ids(&live_p[1..]));
    assert_eq!(after, live_p[1..].to_vec());
    // From before everything: the whole log of p, project:created first.
    let all = replayed(bus.replay_since(&p.id, "0-0").await.unwrap());
    assert_eq!(names(&all)[0], ev::PROJECT_CREATED);
    assert_eq!(&all[1..], &live_p[..]);
    // An id of another project's event is just a position in the total order.
    let q_first = live.iter().find(|e| e.project_id == q.id).unwrap();
    let after_q = replayed(bus.replay_since(&p.id, &q_first.event_id).await.unwrap());
    assert_eq!(ids(&after_q), ids(&live_p[1..]));
    // The newest id: nothing to replay.
    let last = replayed(bus.replay_since(&p.id, &live_p[2].event_id).await.unwrap());
    assert!(last.is_empty());
    // Unknown project: nothing.
    assert!(replayed(bus.replay_since("proj_none", "0-0").await.unwrap()).is_empty());
}

#[tokio::test]
async fn ids_older_than_the_retained_log_require_a_resync() {
    let replay = ReplayConfig {
        min_events: 3,
        min_age_ms: 1_000,
        max_events: 100,
        ..ReplayConfig::default()
    };
    let h = harness_with(test_config(), replay);
    let mut old = Vec::new();
    for i in 0..5 {
        old.push(emit(&h, "a", i).await);
    }
    let b_first = emit(&h, "b", 100).await;
    let bus = h.event_bus();
    // Young events are all retained even beyond min_events.
    assert_eq!(
        replayed(bus.replay_since("a", &old[0].event_id).await.unwrap()).len(),
        4
    );

    h.tick(2_000);
    let fresh = emit(&h, "a", 5).await;
    // Log of a: 6 events, 5 of them old → the oldest are evicted down to min_events (3).
    let kept = replayed(bus.replay_since("a", &old[2].event_id).await.unwrap());
    assert_eq!(
        ids(&kept),
        vec![
            old[3].event_id.clone(),
            old[4].event_id.clone(),
            fresh.event_id.clone()
        ]
    );
    for evicted in &old[..2] {
        assert_eq!(
            bus.replay_since("a", &evicted.event_id).await.unwrap(),
            Replay::ResyncRequired,
            "{} is older than the log",
            evicted.event_id
        );
    }
    assert_eq!(
        bus.replay_since("a", "0-0").await.unwrap(),
        Replay::ResyncRequired
    );
    assert_eq!(
        bus.replay_since("a", "not-an-id").await.unwrap(),
        Replay::ResyncRequired
    );
    // Project b is untouched by a's eviction.
    let b = replayed(bus.replay_since("b", "0-0").await.unwrap());
    assert_eq!(b, vec![b_first]);
}

#[tokio::test]
async fn max_events_caps_the_log_regardless_of_age() {
    let replay = ReplayConfig {
        min_events: 1,
        min_age_ms: i64::MAX / 2,
        max_events: 2,
        ..ReplayConfig::default()
    };
    let h = harness_with(test_config(), replay);
    let mut e = Vec::new();
    for i in 0..4 {
        e.push(emit(&h, "a", i).await);
    }
    let bus = h.event_bus();
    assert_eq!(
        bus.replay_since("a", &e[0].event_id).await.unwrap(),
        Replay::ResyncRequired
    );
    let kept = replayed(bus.replay_since("a", &e[1].event_id).await.unwrap());
    assert_eq!(kept, e[2..].to_vec());
}
