//! [`TeamMemberRepository`] contract cases (ref §1.9, §2 ITeamMemberRepository).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::entities::{AgentMode, AgentTool, GLOBAL_MEMBERS, Lenient, TeamMember, member_keys};
use crate::ports::TeamMemberRepository;

use super::fixtures::{extra, member};
use super::{assert_not_found, ok};

/// Custom members: put (create or replace), get, list per project by `createdAt` then id,
/// delete (`NotFound` the second time).
pub async fn custom_crud(repo: Arc<dyn TeamMemberRepository>) {
    let mut m1 = member("tm_1", "p1", "2026-02-02T10:00:00.000Z");
    m1.extra = extra();
    let m2 = member("tm_2", "p1", "2026-02-01T10:00:00.000Z");
    let m3 = member("tm_0", "p1", "2026-02-02T10:00:00.000Z");
    let other = member("tm_9", "p2", "2026-01-01T00:00:00.000Z");
    for m in [&m1, &m2, &m3, &other] {
        assert_eq!(&ok(repo.put_custom(m.clone()).await, "put"), m);
    }
    let ids = |v: Vec<crate::entities::TeamMember>| -> Vec<String> {
        v.into_iter().map(|m| m.id).collect()
    };
    assert_eq!(
        ids(ok(repo.list_custom("p1").await, "list")),
        ["tm_2", "tm_0", "tm_1"]
    );
    assert_eq!(ids(ok(repo.list_custom("p2").await, "list p2")), ["tm_9"]);
    assert!(ok(repo.list_custom("p3").await, "list p3").is_empty());
    assert_eq!(
        ok(repo.get_custom("p1", "tm_1").await, "get"),
        Some(m1.clone())
    );
    assert_eq!(
        ok(repo.get_custom("p2", "tm_1").await, "get other project"),
        None
    );

    let mut changed = m1.clone();
    changed.name = "Renamed".into();
    changed.memory = Some(vec!["remember this".into()]);
    changed.updated_at = "2026-02-03T00:00:00.000Z".into();
    ok(repo.put_custom(changed.clone()).await, "replace");
    assert_eq!(
        ok(repo.get_custom("p1", "tm_1").await, "get replaced"),
        Some(changed)
    );
    assert_eq!(ok(repo.list_custom("p1").await, "list").len(), 3);

    ok(repo.delete_custom("p1", "tm_1").await, "delete");
    assert_eq!(ok(repo.get_custom("p1", "tm_1").await, "get deleted"), None);
    assert_not_found(repo.delete_custom("p1", "tm_1").await, "delete twice");
    assert_not_found(
        repo.delete_custom("p1", "tm_9").await,
        "delete from the wrong project",
    );
    assert_eq!(
        ids(ok(repo.list_custom("p1").await, "list")),
        ["tm_2", "tm_0"]
    );
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Overrides of default members: get `None`, put replaces, delete (a missing one is fine);
/// overrides never show up as custom members.
pub async fn overrides(repo: Arc<dyn TeamMemberRepository>) {
    let id = "tm_p1_coordinator";
    assert_eq!(ok(repo.get_override("p1", id).await, "get none"), None);
    let first = obj(json!({"name": "Boss", "projectId": "p1",
                           "updatedAt": "2026-02-01T00:00:00.000Z"}));
    ok(repo.put_override("p1", id, first.clone()).await, "put");
    assert_eq!(
        ok(repo.get_override("p1", id).await, "get"),
        Some(first.clone())
    );
    assert_eq!(
        ok(repo.get_override("p2", id).await, "get other project"),
        None
    );
    assert!(
        ok(repo.list_custom("p1").await, "list").is_empty(),
        "overrides are not custom members"
    );
    let second = obj(json!({"name": "Boss", "avatar": "👑", "model": "opus"}));
    ok(repo.put_override("p1", id, second.clone()).await, "replace");
    assert_eq!(
        ok(repo.get_override("p1", id).await, "get replaced"),
        Some(second)
    );
    ok(repo.delete_override("p1", id).await, "delete");
    assert_eq!(ok(repo.get_override("p1", id).await, "get deleted"), None);
    ok(
        repo.delete_override("p1", id).await,
        "delete missing is fine",
    );
}

/// Members with every mode of both vocabularies and every agent tool (hermes included),
/// as the 653bc6a CLI and server write them (issue 13 item 1): stored, read and listed as
/// sent, each a known value; an override may carry them too.
pub async fn every_mode_and_tool(repo: Arc<dyn TeamMemberRepository>) {
    let tools = AgentTool::ALL;
    let mut written = Vec::new();
    for (i, mode) in AgentMode::ALL.iter().enumerate() {
        let mut m = member(&format!("tm_mode_{i}"), "p1", "2026-02-01T10:00:00.000Z");
        m.mode = Some(Lenient::Known(*mode));
        m.agent_tool = Some(Lenient::Known(tools[i % tools.len()]));
        assert_eq!(&ok(repo.put_custom(m.clone()).await, "put"), &m);
        written.push(m);
    }
    for m in &written {
        let read = ok(repo.get_custom("p1", &m.id).await, "get").expect("stored");
        assert_eq!(&read, m);
        assert_eq!(read.mode, m.mode);
        assert!(read.mode.as_ref().is_some_and(|x| x.known().is_some()));
    }
    assert_eq!(ok(repo.list_custom("p1").await, "list"), written);
    let hermes = written
        .iter()
        .filter(|m| m.agent_tool == Some(Lenient::Known(AgentTool::Hermes)))
        .count();
    assert_eq!(hermes, 1, "hermes is among the tools written");

    let over = obj(json!({"mode": "coordinated-coordinator", "agentTool": "hermes"}));
    ok(
        repo.put_override("p1", "tm_p1_coordinator", over.clone())
            .await,
        "put override",
    );
    assert_eq!(
        ok(repo.get_override("p1", "tm_p1_coordinator").await, "get"),
        Some(over)
    );
}

fn ids(v: Vec<TeamMember>) -> Vec<String> {
    v.into_iter().map(|m| m.id).collect()
}

/// A copy of `m` with `scope` set (`None` removes it).
fn scoped(m: &TeamMember, scope: Option<&str>) -> TeamMember {
    let mut m = m.clone();
    match scope {
        Some(s) => {
            m.extra.insert(member_keys::SCOPE.to_owned(), json!(s));
        }
        None => {
            m.extra.shift_remove(member_keys::SCOPE);
        }
    }
    m
}

/// Global members (newer reference, 653bc6a): kept under the global home whatever project
/// they were created in, found by id alone, moved between the global home and their project
/// when their scope changes; the newer fields (`scope`, `modelProfileId`,
/// `soundInstrument`) round-trip.
pub async fn global_members(repo: Arc<dyn TeamMemberRepository>) {
    let local = member("tm_1", "p1", "2026-02-01T00:00:00.000Z");
    let mut global = scoped(
        &member("tm_2", "p1", "2026-02-02T00:00:00.000Z"),
        Some("global"),
    );
    global
        .extra
        .insert(member_keys::MODEL_PROFILE_ID.to_owned(), json!("mp_heavy"));
    global
        .extra
        .insert(member_keys::SOUND_INSTRUMENT.to_owned(), json!("piano"));
    let other = scoped(
        &member("tm_3", "p2", "2026-02-03T00:00:00.000Z"),
        Some("global"),
    );
    let explicit = scoped(
        &member("tm_4", "p1", "2026-02-04T00:00:00.000Z"),
        Some("project"),
    );
    for m in [&local, &global, &other, &explicit] {
        assert_eq!(&ok(repo.put_custom(m.clone()).await, "put"), m);
    }
    assert_eq!(
        ids(ok(repo.list_custom("p1").await, "list p1")),
        ["tm_1", "tm_4"]
    );
    assert!(ok(repo.list_custom("p2").await, "list p2").is_empty());
    assert_eq!(
        ok(repo.list_custom(GLOBAL_MEMBERS).await, "list global"),
        [global.clone(), other.clone()]
    );
    assert_eq!(
        ok(repo.get_custom(GLOBAL_MEMBERS, "tm_2").await, "get global"),
        Some(global.clone())
    );
    assert_eq!(ok(repo.get_custom("p1", "tm_2").await, "get in p1"), None);
    assert_eq!(
        ok(
            repo.get_custom(GLOBAL_MEMBERS, "tm_1").await,
            "local as global"
        ),
        None
    );
    assert_eq!(
        ok(repo.find_custom("tm_2").await, "find global"),
        Some(global.clone())
    );
    assert_eq!(
        ok(repo.find_custom("tm_4").await, "find local"),
        Some(explicit.clone())
    );
    assert_eq!(ok(repo.find_custom("tm_9").await, "find missing"), None);

    // Scope changes move the member between its project and the global home.
    let demoted = scoped(&global, Some("project"));
    ok(repo.put_custom(demoted.clone()).await, "demote");
    assert_eq!(
        ids(ok(repo.list_custom(GLOBAL_MEMBERS).await, "list global")),
        ["tm_3"]
    );
    assert_eq!(
        ids(ok(repo.list_custom("p1").await, "list p1")),
        ["tm_1", "tm_2", "tm_4"]
    );
    assert_eq!(
        ok(repo.get_custom("p1", "tm_2").await, "get demoted"),
        Some(demoted.clone())
    );
    assert_eq!(
        ok(repo.find_custom("tm_2").await, "find demoted"),
        Some(demoted)
    );
    let promoted = scoped(&local, Some("global"));
    ok(repo.put_custom(promoted.clone()).await, "promote");
    assert_eq!(
        ids(ok(repo.list_custom("p1").await, "list p1")),
        ["tm_2", "tm_4"]
    );
    assert_eq!(
        ok(repo.list_custom(GLOBAL_MEMBERS).await, "list global"),
        [promoted.clone(), other.clone()]
    );
    let unscoped = scoped(&promoted, None);
    ok(repo.put_custom(unscoped.clone()).await, "unscope");
    assert_eq!(
        ok(repo.get_custom("p1", "tm_1").await, "get unscoped"),
        Some(unscoped)
    );
    assert_eq!(
        ids(ok(repo.list_custom(GLOBAL_MEMBERS).await, "list global")),
        ["tm_3"]
    );

    assert_not_found(
        repo.delete_custom("p2", "tm_3").await,
        "delete a global member from its project",
    );
    ok(
        repo.delete_custom(GLOBAL_MEMBERS, "tm_3").await,
        "delete global",
    );
    assert_eq!(ok(repo.find_custom("tm_3").await, "find deleted"), None);
    assert!(ok(repo.list_custom(GLOBAL_MEMBERS).await, "list global").is_empty());
}
