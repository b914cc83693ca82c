//! TeamMemberService behaviour (ref §1.9, §3.5; spec §2) against the in-memory adapters.

#![allow(clippy::unwrap_used)]

mod support;

use maestro_domain::entities::{
    AgentMode, AgentTool, Capabilities, PermissionMode, TeamMemberStatus,
};
use maestro_domain::events::names as ev;
use maestro_domain::services::{CreateTeamMember, UpdateTeamMember};
use serde_json::json;
use support::*;

fn custom(project: &str, name: &str) -> CreateTeamMember {
    CreateTeamMember {
        project_id: Some(project.into()),
        name: Some(format!("  {name} ")),
        role: Some(" Reviewer ".into()),
        avatar: Some(" 🧐 ".into()),
        identity: Some("  You review.  ".into()),
        model: Some("opus".into()),
        agent_tool: Some(AgentTool::Codex),
        mode: Some(AgentMode::Execute),
        permission_mode: Some(PermissionMode::ReadOnly),
        memory: Some(vec!["likes tests".into()]),
        ..CreateTeamMember::default()
    }
}

#[tokio::test]
async fn five_defaults_in_order_with_stable_ids_and_created_at() {
    let h = harness();
    let p = h.project("p").await;
    h.tick(60_000);
    let list = h.app.team_members.list(&p.id).await.unwrap();
    let got: Vec<_> = list
        .iter()
        .map(|m| {
            (
                m.id.clone(),
                m.name.as_str(),
                m.mode.as_ref().unwrap().as_str(),
            )
        })
        .collect();
    let id = |s: &str| format!("tm_{}_{s}", p.id);
    assert_eq!(
        got,
        vec![
            (id("simple_worker"), "Simple Worker", "execute"),
            (id("coordinator"), "Coordinator", "coordinate"),
            (id("batch_coordinator"), "Batch Coordinator", "coordinate"),
            (id("dag_coordinator"), "DAG Coordinator", "coordinate"),
            (id("recruiter"), "Recruiter", "execute"),
        ]
    );
    for m in &list {
        assert!(m.is_default);
        assert_eq!(m.status, TeamMemberStatus::Active);
        assert_eq!(m.model.as_deref(), Some("sonnet"));
        assert_eq!(m.agent_tool, Some(AgentTool::ClaudeCode.into()));
        assert_eq!(
            m.created_at, T0_ISO,
            "createdAt is the project's creation time"
        );
        assert_eq!(m.updated_at, T0_ISO);
        assert!(!m.identity.is_empty());
    }
    let recruiter = to_json(&list[4]);
    assert_eq!(
        recruiter["commandPermissions"],
        json!({ "commands": { "team-member:create": true, "team-member:get": true, "team-member:list": true } })
    );
    assert_eq!(recruiter["workflowTemplateId"], "execute-recruit");
    assert_eq!(
        to_json(&list[0])["capabilities"],
        json!({ "can_spawn_sessions": false, "can_edit_tasks": true, "can_report_task_level": true, "can_report_session_level": true })
    );
    assert_eq!(
        to_json(&list[1])["capabilities"]["can_spawn_sessions"],
        true
    );

    // Stable across reads and time.
    h.tick(3_600_000);
    assert_eq!(h.app.team_members.list(&p.id).await.unwrap(), list);
    assert_eq!(
        h.app
            .team_members
            .get(&p.id, &id("coordinator"))
            .await
            .unwrap(),
        list[1]
    );
}

#[tokio::test]
async fn project_id_is_required_and_missing_members_are_404() {
    let h = harness();
    for err in [
        h.app.team_members.list("").await.unwrap_err(),
        h.app.team_members.get(" ", "x").await.unwrap_err(),
        h.app
            .team_members
            .update("", "x", UpdateTeamMember::default())
            .await
            .unwrap_err(),
        h.app.team_members.reset("", "x").await.unwrap_err(),
        h.app
            .team_members
            .create(CreateTeamMember::default())
            .await
            .unwrap_err(),
    ] {
        expect_err(err, "VALIDATION_ERROR", "Project ID is required");
    }
    expect_err(
        h.app.team_members.get("proj_1", "tm_x").await.unwrap_err(),
        "NOT_FOUND",
        "Team member with id 'tm_x' not found",
    );
    // A default id of another project is not a member of this one.
    expect_err(
        h.app
            .team_members
            .get("proj_1", "tm_proj_2_coordinator")
            .await
            .unwrap_err(),
        "NOT_FOUND",
        "Team member with id 'tm_proj_2_coordinator' not found",
    );
    // The project need not exist for the defaults.
    assert_eq!(
        h.app.team_members.list("proj_nowhere").await.unwrap().len(),
        5
    );
}

#[tokio::test]
async fn create_validates_trims_persists_and_emits() {
    let h = harness();
    let mut sub = h.subscribe();
    for (field, msg) in [
        ("name", "Team member name is required"),
        ("role", "Team member role is required"),
        ("avatar", "Team member avatar is required"),
    ] {
        let mut input = custom("proj_1", "Rita");
        match field {
            "name" => input.name = Some("  ".into()),
            "role" => input.role = None,
            _ => input.avatar = Some(String::new()),
        }
        expect_err(
            h.app.team_members.create(input).await.unwrap_err(),
            "VALIDATION_ERROR",
            msg,
        );
    }
    expect_no_events(&mut sub);

    let m = h
        .app
        .team_members
        .create(custom("proj_1", "Rita"))
        .await
        .unwrap();
    assert!(m.id.starts_with("tm_"));
    assert_eq!(
        (m.name.as_str(), m.role.as_str(), m.avatar.as_str()),
        ("Rita", "Reviewer", "🧐")
    );
    assert_eq!(m.identity, "You review.");
    assert!(!m.is_default);
    assert_eq!(m.status, TeamMemberStatus::Active);
    assert_eq!(m.skill_ids, Some(vec![]));
    assert_eq!(
        m.permission_mode,
        Some(PermissionMode::ReadOnly.into()),
        "persisted (spec §2)"
    );
    assert_eq!(
        m.memory,
        Some(vec!["likes tests".into()]),
        "persisted (spec §2)"
    );
    assert_eq!(
        (m.created_at.as_str(), m.updated_at.as_str()),
        (T0_ISO, T0_ISO)
    );
    let events = expect_events(&mut sub, &[ev::TEAM_MEMBER_CREATED]);
    envelope(&events[0], ev::TEAM_MEMBER_CREATED, "proj_1", None);
    assert_eq!(events[0].data, to_json(&m));
    assert_eq!(h.app.team_members.get("proj_1", &m.id).await.unwrap(), m);

    // Custom members follow the five defaults.
    let list = h.app.team_members.list("proj_1").await.unwrap();
    assert_eq!(list.len(), 6);
    assert_eq!(list[5], m);
}

#[tokio::test]
async fn update_default_persists_override_including_permission_mode_and_memory() {
    let h = harness();
    let p = h.project("p").await;
    let id = format!("tm_{}_simple_worker", p.id);
    h.tick(1000);
    let mut sub = h.subscribe();
    let updated = h
        .app
        .team_members
        .update(
            &p.id,
            &id,
            UpdateTeamMember {
                name: Some("  Worker Bee ".into()),
                model: Some("opus".into()),
                permission_mode: Some(PermissionMode::BypassPermissions),
                memory: Some(vec!["a".into()]),
                capabilities: Some(Capabilities {
                    can_spawn_sessions: Some(true),
                    ..Capabilities::default()
                }),
                ..UpdateTeamMember::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.id, id);
    assert!(updated.is_default);
    assert_eq!(updated.name, "Worker Bee");
    assert_eq!(updated.model.as_deref(), Some("opus"));
    assert_eq!(
        updated.permission_mode,
        Some(PermissionMode::BypassPermissions.into())
    );
    assert_eq!(updated.memory, Some(vec!["a".into()]));
    assert_eq!(
        updated.role, "Default executor",
        "untouched fields keep the code default"
    );
    assert_eq!(updated.created_at, T0_ISO);
    assert_eq!(
        updated.updated_at,
        maestro_domain::ids::iso_from_ms(T0 + 1000)
    );
    let events = expect_events(&mut sub, &[ev::TEAM_MEMBER_UPDATED]);
    envelope(&events[0], ev::TEAM_MEMBER_UPDATED, &p.id, None);
    assert_eq!(events[0].data, to_json(&updated));

    // Persisted: a fresh read and the list show it.
    h.tick(1000);
    assert_eq!(h.app.team_members.get(&p.id, &id).await.unwrap(), updated);
    assert_eq!(h.app.team_members.list(&p.id).await.unwrap()[0], updated);

    // `memory: []` clears.
    let cleared = h
        .app
        .team_members
        .update(
            &p.id,
            &id,
            UpdateTeamMember {
                memory: Some(vec![]),
                ..UpdateTeamMember::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.memory, Some(vec![]));
    assert_eq!(cleared.name, "Worker Bee", "overrides accumulate");
}

#[tokio::test]
async fn update_validation_and_404() {
    let h = harness();
    let p = h.project("p").await;
    let id = format!("tm_{}_coordinator", p.id);
    let mut sub = h.subscribe();
    for (u, msg) in [
        (
            UpdateTeamMember {
                name: Some(" ".into()),
                ..Default::default()
            },
            "Team member name cannot be empty",
        ),
        (
            UpdateTeamMember {
                role: Some(String::new()),
                ..Default::default()
            },
            "Team member role cannot be empty",
        ),
        (
            UpdateTeamMember {
                avatar: Some("\t".into()),
                ..Default::default()
            },
            "Team member avatar cannot be empty",
        ),
    ] {
        expect_err(
            h.app.team_members.update(&p.id, &id, u).await.unwrap_err(),
            "VALIDATION_ERROR",
            msg,
        );
    }
    expect_err(
        h.app
            .team_members
            .update(&p.id, "tm_ghost", UpdateTeamMember::default())
            .await
            .unwrap_err(),
        "NOT_FOUND",
        "Team member with id 'tm_ghost' not found",
    );
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn update_custom_member() {
    let h = harness();
    let m = h
        .app
        .team_members
        .create(custom("proj_1", "Rita"))
        .await
        .unwrap();
    h.tick(5);
    let u = h
        .app
        .team_members
        .update(
            "proj_1",
            &m.id,
            UpdateTeamMember {
                identity: Some("  New persona ".into()),
                permission_mode: Some(PermissionMode::AcceptEdits),
                ..UpdateTeamMember::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(u.identity, "New persona");
    assert_eq!(u.permission_mode, Some(PermissionMode::AcceptEdits.into()));
    assert_eq!(u.name, "Rita");
    assert!(!u.is_default);
    assert_eq!(u.created_at, T0_ISO);
    assert_eq!(u.updated_at, maestro_domain::ids::iso_from_ms(T0 + 5));
    assert_eq!(h.app.team_members.get("proj_1", &m.id).await.unwrap(), u);
}

#[tokio::test]
async fn reset_restores_code_defaults() {
    let h = harness();
    let p = h.project("p").await;
    let id = format!("tm_{}_dag_coordinator", p.id);
    let original = h.app.team_members.get(&p.id, &id).await.unwrap();
    h.tick(10);
    h.app
        .team_members
        .update(
            &p.id,
            &id,
            UpdateTeamMember {
                name: Some("Changed".into()),
                status: Some(TeamMemberStatus::Archived),
                memory: Some(vec!["x".into()]),
                ..UpdateTeamMember::default()
            },
        )
        .await
        .unwrap();
    // An archived default disappears from the list but is still readable.
    let list = h.app.team_members.list(&p.id).await.unwrap();
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|m| m.id != id));
    assert_eq!(
        h.app.team_members.get(&p.id, &id).await.unwrap().status,
        TeamMemberStatus::Archived
    );

    let mut sub = h.subscribe();
    let reset = h.app.team_members.reset(&p.id, &id).await.unwrap();
    assert_eq!(reset, original);
    let events = expect_events(&mut sub, &[ev::TEAM_MEMBER_UPDATED]);
    envelope(&events[0], ev::TEAM_MEMBER_UPDATED, &p.id, None);
    assert_eq!(events[0].data, to_json(&original));
    assert_eq!(h.app.team_members.list(&p.id).await.unwrap().len(), 5);

    // Only defaults can be reset.
    let m = h
        .app
        .team_members
        .create(custom(&p.id, "Rita"))
        .await
        .unwrap();
    drain(&mut sub);
    for bad in [m.id.as_str(), "tm_ghost"] {
        expect_err(
            h.app.team_members.reset(&p.id, bad).await.unwrap_err(),
            "NOT_FOUND",
            &format!("Default team member with id '{bad}' not found"),
        );
    }
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn archive_unarchive_and_delete_rules() {
    let h = harness();
    let p = h.project("p").await;
    let default_id = format!("tm_{}_recruiter", p.id);
    let m = h
        .app
        .team_members
        .create(custom(&p.id, "Rita"))
        .await
        .unwrap();
    let mut sub = h.subscribe();

    // Defaults: 403 for archive, unarchive and delete.
    expect_err(
        h.app
            .team_members
            .archive(&p.id, &default_id)
            .await
            .unwrap_err(),
        "FORBIDDEN",
        "Cannot archive default team members.",
    );
    expect_err(
        h.app
            .team_members
            .unarchive(&p.id, &default_id)
            .await
            .unwrap_err(),
        "FORBIDDEN",
        "Cannot unarchive default team members.",
    );
    expect_err(
        h.app
            .team_members
            .delete(&p.id, &default_id)
            .await
            .unwrap_err(),
        "FORBIDDEN",
        "Cannot delete default team members. You can customize them using the update endpoint.",
    );
    // Active custom member: 422 on delete; unarchive is a no-op without event.
    expect_err(
        h.app.team_members.delete(&p.id, &m.id).await.unwrap_err(),
        "BUSINESS_RULE_ERROR",
        "Team member must be archived before deletion. Use the archive endpoint first.",
    );
    assert_eq!(h.app.team_members.unarchive(&p.id, &m.id).await.unwrap(), m);
    expect_no_events(&mut sub);

    h.tick(1);
    let archived = h.app.team_members.archive(&p.id, &m.id).await.unwrap();
    assert_eq!(archived.status, TeamMemberStatus::Archived);
    let events = expect_events(&mut sub, &[ev::TEAM_MEMBER_ARCHIVED]);
    envelope(&events[0], ev::TEAM_MEMBER_ARCHIVED, &p.id, None);
    assert_eq!(events[0].data, to_json(&archived));
    assert!(
        h.app
            .team_members
            .list(&p.id)
            .await
            .unwrap()
            .iter()
            .all(|x| x.id != m.id)
    );
    assert_eq!(
        h.app.team_members.get(&p.id, &m.id).await.unwrap(),
        archived
    );

    // Archiving again: unchanged, no event.
    h.tick(1);
    assert_eq!(
        h.app.team_members.archive(&p.id, &m.id).await.unwrap(),
        archived
    );
    expect_no_events(&mut sub);

    let active = h.app.team_members.unarchive(&p.id, &m.id).await.unwrap();
    assert_eq!(active.status, TeamMemberStatus::Active);
    expect_events(&mut sub, &[ev::TEAM_MEMBER_UPDATED]);
    assert!(
        h.app
            .team_members
            .list(&p.id)
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == m.id)
    );

    h.app.team_members.archive(&p.id, &m.id).await.unwrap();
    drain(&mut sub);
    h.app.team_members.delete(&p.id, &m.id).await.unwrap();
    let events = expect_events(&mut sub, &[ev::TEAM_MEMBER_DELETED]);
    envelope(&events[0], ev::TEAM_MEMBER_DELETED, &p.id, None);
    assert_eq!(events[0].data, json!({ "id": m.id }));
    assert!(
        h.app
            .team_members
            .get(&p.id, &m.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        h.app
            .team_members
            .delete(&p.id, &m.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        h.app
            .team_members
            .archive(&p.id, "tm_ghost")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn memory_append_persists_for_defaults_and_custom_members() {
    let h = harness();
    let p = h.project("p").await;
    let default_id = format!("tm_{}_coordinator", p.id);
    let m = h
        .app
        .team_members
        .create(custom(&p.id, "Rita"))
        .await
        .unwrap();
    let mut sub = h.subscribe();

    let d1 = h
        .app
        .team_members
        .append_memory(&p.id, &default_id, vec!["one".into()])
        .await
        .unwrap();
    assert_eq!(d1.memory, Some(vec!["one".into()]));
    let d2 = h
        .app
        .team_members
        .append_memory(&p.id, &default_id, vec!["two".into(), "three".into()])
        .await
        .unwrap();
    assert_eq!(
        d2.memory,
        Some(vec!["one".into(), "two".into(), "three".into()])
    );
    assert_eq!(
        h.app
            .team_members
            .get(&p.id, &default_id)
            .await
            .unwrap()
            .memory,
        d2.memory
    );

    let c = h
        .app
        .team_members
        .append_memory(&p.id, &m.id, vec!["new".into()])
        .await
        .unwrap();
    assert_eq!(c.memory, Some(vec!["likes tests".into(), "new".into()]));
    assert_eq!(
        h.app.team_members.get(&p.id, &m.id).await.unwrap().memory,
        c.memory
    );

    let events = expect_events(
        &mut sub,
        &[
            ev::TEAM_MEMBER_UPDATED,
            ev::TEAM_MEMBER_UPDATED,
            ev::TEAM_MEMBER_UPDATED,
        ],
    );
    assert_eq!(
        events[1].data.to_value()["memory"],
        json!(["one", "two", "three"])
    );
    assert!(
        h.app
            .team_members
            .append_memory(&p.id, "tm_ghost", vec![])
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn snapshot_has_the_five_reference_fields() {
    let h = harness();
    let m = h
        .app
        .team_members
        .create(custom("proj_1", "Rita"))
        .await
        .unwrap();
    let snap = h.app.team_members.snapshot("proj_1", &m.id).await.unwrap();
    assert_eq!(
        to_json(&snap),
        json!({ "name": "Rita", "avatar": "🧐", "role": "Reviewer", "model": "opus", "agentTool": "codex" })
    );
}
