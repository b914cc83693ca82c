//! The [`EventBus`] contract (spec §4): envelopes, in-process delivery before `emit`
//! returns, per-project ordered replay, bounded slow subscribers.

use std::sync::Arc;

use serde_json::json;

use crate::events::{EventBus, EventId, NewEvent, Replay};

fn event(project: &str, n: usize) -> NewEvent {
    NewEvent::new("task:updated", project, json!({ "n": n }))
}

/// Runs every case. `make` yields a fresh bus whose subscribers buffer `capacity` events.
pub async fn event_bus_contract<F, Fut>(make: F, capacity: usize)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn EventBus>>,
{
    envelope_and_ids(make().await).await;
    delivered_before_emit_returns(make().await).await;
    replay_per_project(make().await).await;
    slow_subscriber_is_bounded(make().await, capacity).await;
}

/// `emit` fills the envelope; ids are unique and increasing.
pub async fn envelope_and_ids(bus: Arc<dyn EventBus>) {
    eprintln!("contract case event_bus::envelope_and_ids");
    let mut last: Option<EventId> = None;
    for n in 0..50 {
        let ev = bus
            .emit(event("p1", n).for_session("sess_1"))
            .await
            .expect("emit");
        assert_eq!(ev.name, "task:updated");
        assert_eq!(ev.project_id, "p1");
        assert_eq!(ev.session_id.as_deref(), Some("sess_1"));
        assert_eq!(ev.data, json!({ "n": n }));
        assert!(ev.timestamp > 0);
        let id = EventId::parse(&ev.event_id).expect("event id parses");
        if let Some(prev) = last {
            assert!(id > prev, "ids increase: {prev} then {id}");
        }
        last = Some(id);
    }
}

/// A subscription taken before `emit` holds the event as soon as `emit` returns, in order;
/// one taken after does not see earlier events. Dropping a subscription releases it.
pub async fn delivered_before_emit_returns(bus: Arc<dyn EventBus>) {
    eprintln!("contract case event_bus::delivered_before_emit_returns");
    let before = bus.subscriber_count();
    let mut sub = bus.subscribe();
    assert_eq!(bus.subscriber_count(), before + 1);
    for n in 0..10 {
        bus.emit(event("p1", n)).await.expect("emit");
        let got = sub.try_recv().expect("delivered before emit returned");
        assert_eq!(got.data, json!({ "n": n }));
    }
    let mut late = bus.subscribe();
    assert!(late.try_recv().is_none(), "no history for new subscribers");
    drop(sub);
    drop(late);
    assert_eq!(bus.subscriber_count(), before);
}

/// Replay returns the retained events of one project after an id, in order, without
/// duplicates; an unknown id format asks for a resync.
pub async fn replay_per_project(bus: Arc<dyn EventBus>) {
    eprintln!("contract case event_bus::replay_per_project");
    let mut ids = Vec::new();
    for n in 0..20 {
        let ev = bus.emit(event("p1", n)).await.expect("emit");
        bus.emit(event("p2", n)).await.expect("emit");
        ids.push(ev.event_id.clone());
    }
    match bus.replay_since("p1", &ids[4]).await.expect("replay") {
        Replay::Events(evs) => {
            let ns: Vec<_> = evs.iter().map(|e| e.data.to_value()["n"].clone()).collect();
            assert_eq!(ns, (5..20).map(|n| json!(n)).collect::<Vec<_>>());
            assert!(evs.iter().all(|e| e.project_id == "p1"));
        }
        Replay::ResyncRequired => panic!("recent id must replay"),
    }
    match bus.replay_since("p1", &ids[19]).await.expect("replay") {
        Replay::Events(evs) => assert!(evs.is_empty()),
        Replay::ResyncRequired => panic!("latest id must replay nothing"),
    }
    assert_eq!(
        bus.replay_since("p1", "not-an-id").await.expect("replay"),
        Replay::ResyncRequired
    );
}

/// A subscriber that never reads does not block `emit` and does not buffer more than its
/// capacity: it loses the oldest events (counted) and then reads the newest ones.
pub async fn slow_subscriber_is_bounded(bus: Arc<dyn EventBus>, capacity: usize) {
    eprintln!("contract case event_bus::slow_subscriber_is_bounded");
    let mut slow = bus.subscribe();
    let total = capacity + 25;
    for n in 0..total {
        bus.emit(event("p1", n)).await.expect("emit never blocks");
    }
    let mut received = Vec::new();
    while let Some(ev) = slow.try_recv() {
        received.push(ev.data.to_value()["n"].as_u64().expect("n") as usize);
    }
    assert!(slow.lagged() > 0, "the slow subscriber was told it lagged");
    assert!(
        received.len() <= capacity,
        "at most `capacity` events were buffered"
    );
    assert_eq!(
        received.last(),
        Some(&(total - 1)),
        "the newest event is kept"
    );
    assert!(received.windows(2).all(|w| w[0] < w[1]), "order kept");
}
