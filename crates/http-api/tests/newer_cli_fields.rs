//! Fields the newer `maestro` CLI (653bc6a) sends, with the exact request bodies it sends
//! (`/work/refcli/NEWER-CLI-REQUESTS.md` §2.1–§2.5): task `teamId` / `dueDate`, doc `kind`,
//! project `isMaster`, team-member `scope` / `modelProfileId` / `soundInstrument`, and team
//! members without a project (global members, lookup by id alone). Each field must be accepted,
//! answered, announced in the change's event and kept by the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Harness, assert_error};

/// The data of the last event named `name` since the last drain.
fn last_event(h: &mut Harness, name: &str) -> Value {
    h.drain()
        .iter()
        .rev()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} event"))
        .data
        .to_value()
}

#[tokio::test]
async fn task_team_id_and_due_date() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let worker = format!("tm_{p}_simple_worker");
    let coordinator = format!("tm_{p}_coordinator");

    // `task create "Team task" --team-member <tm> --team team_does_not_matter`.
    let r = h
        .post(
            "/api/tasks",
            json!({"projectId": p, "title": "Team task", "description": "", "priority": "medium",
                   "teamMemberId": worker, "teamId": "team_does_not_matter"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["teamId"], "team_does_not_matter");
    assert_eq!(r.body["teamMemberId"], json!(worker));
    assert!(r.body.get("dueDate").is_none(), "not sent, not stored");
    let t = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        last_event(&mut h, "task:created")["teamId"],
        "team_does_not_matter"
    );
    let got = h.get(&format!("/api/tasks/{t}")).await.body;
    assert_eq!(got["teamId"], "team_does_not_matter");
    let list = h.get(&format!("/api/tasks?projectId={p}")).await.body;
    assert_eq!(list[0]["teamId"], "team_does_not_matter");

    // `task edit <id> --team '' --team-member <tm>`: the CLI sends `teamId: null`.
    let r = h
        .patch(
            &format!("/api/tasks/{t}"),
            json!({"teamMemberId": coordinator, "teamId": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["teamId"], Value::Null);
    assert!(r.body.as_object().unwrap().contains_key("teamId"));
    assert_eq!(r.body["teamMemberId"], json!(coordinator));
    let data = last_event(&mut h, "task:updated");
    assert!(data["teamId"].is_null() && data.as_object().unwrap().contains_key("teamId"));
    assert_eq!(
        h.get(&format!("/api/tasks/{t}")).await.body["teamId"],
        Value::Null
    );

    // `task edit <id> --team team_2`.
    let r = h
        .patch(&format!("/api/tasks/{t}"), json!({"teamId": "team_2"}))
        .await;
    assert_eq!(r.body["teamId"], "team_2");

    // `dueDate` (the newer server's schema): a date, then `null` clears it.
    let r = h
        .patch(&format!("/api/tasks/{t}"), json!({"dueDate": "2026-12-31"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["dueDate"], "2026-12-31");
    assert_eq!(r.body["teamId"], "team_2", "other fields untouched");
    let r = h
        .patch(&format!("/api/tasks/{t}"), json!({"dueDate": null}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["dueDate"], Value::Null);
    assert_eq!(last_event(&mut h, "task:updated")["dueDate"], Value::Null);
    assert_eq!(
        h.get(&format!("/api/tasks/{t}")).await.body["dueDate"],
        Value::Null
    );

    // Both on create, `teamId: null` included.
    let r = h
        .post(
            "/api/tasks",
            json!({"projectId": p, "title": "Dated", "teamId": null, "dueDate": "2026-07-01"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["teamId"], Value::Null);
    assert_eq!(r.body["dueDate"], "2026-07-01");

    // A task created as the older CLI does has neither key.
    let r = h
        .post(
            "/api/tasks",
            json!({"projectId": p, "title": "Old", "description": "", "priority": "medium"}),
        )
        .await;
    let obj = r.body.as_object().unwrap();
    assert!(!obj.contains_key("teamId") && !obj.contains_key("dueDate"));

    // A team id is an id (spec §2).
    let r = h
        .patch(&format!("/api/tasks/{t}"), json!({"teamId": "../x"}))
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    let r = h
        .patch(&format!("/api/tasks/{t}"), json!({"dueDate": 5}))
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn doc_kind_on_task_and_session_docs() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    // `session register` of the newer CLI.
    let r = h
        .post(
            "/api/sessions",
            json!({"id": "sess_flow_1", "projectId": p, "taskIds": [t], "name": "worker: sess_flow_1",
                   "status": "working", "metadata": {"mode": "worker"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let s = "sess_flow_1";
    h.drain();

    // `task docs add <task> "Arch diagram" --file arch.excalidraw --content … --kind diagram`.
    let scene = r#"{"type":"excalidraw","elements":[]}"#;
    let r = h
        .post(
            &format!("/api/tasks/{t}/docs"),
            json!({"sessionId": s, "title": "Arch diagram", "filePath": "/w/arch.excalidraw",
                   "content": scene, "kind": "diagram"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let docs = h.get(&format!("/api/tasks/{t}/docs")).await.body;
    let doc = &docs[0];
    assert_eq!(doc["kind"], "diagram", "{docs}");
    assert_eq!(doc["content"], scene);
    assert_eq!(doc["sessionId"], s);
    assert_eq!(doc["taskId"], json!(t));

    // `session docs add "Flow diagram" --file doc.md --kind diagram` (content read from the
    // file by the CLI): the full session comes back.
    let r = h
        .post(
            &format!("/api/sessions/{s}/docs"),
            json!({"title": "Flow diagram", "filePath": "/w/doc.md", "content": "# Doc\n", "kind": "diagram"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let last = r.body["docs"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["title"], "Flow diagram");
    assert_eq!(last["kind"], "diagram");
    let announced = last_event(&mut h, "session:updated");
    assert_eq!(
        announced["docs"].as_array().unwrap().last().unwrap()["kind"],
        "diagram"
    );
    let listed = h.get(&format!("/api/sessions/{s}/docs")).await.body;
    assert_eq!(listed[1]["kind"], "diagram");
    assert_eq!(listed[1]["content"], "# Doc\n");

    // Without `--kind` (and with `--kind markdown`) the CLI omits the field: none stored.
    let r = h
        .post(
            &format!("/api/sessions/{s}/docs"),
            json!({"title": "Notes", "filePath": "/w/notes.md", "content": "n"}),
        )
        .await;
    let last = r.body["docs"].as_array().unwrap().last().unwrap().clone();
    assert!(last.get("kind").is_none(), "{last}");
    // The newer server's explicit `markdown` is kept as sent.
    let r = h
        .post(
            &format!("/api/sessions/{s}/docs"),
            json!({"title": "Md", "filePath": "/w/md.md", "content": "m", "kind": "markdown"}),
        )
        .await;
    assert_eq!(r.body["docs"][3]["kind"], "markdown");

    // Anything else is refused (spec §2: enum fields are validated).
    for path in [
        format!("/api/sessions/{s}/docs"),
        format!("/api/tasks/{t}/docs"),
    ] {
        let r = h
            .post(
                &path,
                json!({"sessionId": s, "title": "X", "filePath": "/x", "kind": "sketch"}),
            )
            .await;
        assert_error(&r, 400, "VALIDATION_ERROR");
        assert_eq!(r.body["details"][0]["path"], "kind", "{}", r.body);
    }
}

#[tokio::test]
async fn project_is_master() {
    let mut h = Harness::new();
    let r = h
        .post(
            "/api/projects",
            json!({"name": "Master", "workingDir": "/home/u", "isMaster": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["isMaster"], true);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(last_event(&mut h, "project:created")["isMaster"], true);

    let r = h
        .put(&format!("/api/projects/{id}"), json!({"isMaster": false}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["isMaster"], false);
    assert_eq!(r.body["name"], "Master");
    assert_eq!(last_event(&mut h, "project:updated")["isMaster"], false);
    assert_eq!(
        h.get(&format!("/api/projects/{id}")).await.body["isMaster"],
        false
    );

    // `project create` of both CLIs sends no `isMaster`: none stored.
    let r = h
        .post(
            "/api/projects",
            json!({"name": "P", "workingDir": "/w", "description": ""}),
        )
        .await;
    assert!(r.body.get("isMaster").is_none(), "{}", r.body);
    let r = h
        .put(&format!("/api/projects/{id}"), json!({"isMaster": "yes"}))
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
}

/// `team-member create … --global` sends `scope: "global"`. The newer CLI sends the mode
/// normalised to the newer vocabulary (`--mode coordinator` → `"coordinator"`); that vocabulary
/// is another change of issue 13, so these bodies use the legacy spelling the server accepts
/// today (`coordinate` / `execute`); every other field is what the CLI sends.
#[tokio::test]
async fn global_team_members() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let p2 = h.project("P2").await;

    let r = h
        .post(
            "/api/team-members",
            json!({"projectId": p, "name": "Global Bot", "role": "r", "avatar": "🌍",
                   "mode": "coordinate", "agentTool": "claude-code", "identity": "", "scope": "global"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["scope"], "global");
    assert_eq!(
        r.body["projectId"],
        json!(p),
        "the creating project is kept"
    );
    let global = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(last_event(&mut h, "team_member:created")["scope"], "global");

    // `team-member list --all-projects` / without project context: the global members.
    let r = h.get("/api/team-members").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!([h.get(&format!("/api/team-members/{global}")).await.body])
    );
    let r = h.get("/api/team-members?scope=global").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    // In every project's list, after its defaults and custom members.
    for project in [&p, &p2] {
        let list = h
            .get(&format!("/api/team-members?projectId={project}"))
            .await
            .body;
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 6, "{ids:?}");
        assert_eq!(ids[5], global);
    }
    let only = h
        .get(&format!("/api/team-members?projectId={p2}&scope=global"))
        .await
        .body;
    assert_eq!(only.as_array().unwrap().len(), 1);

    // `team-member get <id>` without project context, and from another project.
    let r = h.get(&format!("/api/team-members/{global}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "Global Bot");
    let r = h
        .get(&format!("/api/team-members/{global}?projectId={p2}"))
        .await;
    assert_eq!(r.body["id"], json!(global));
    // By id alone also finds project members and computed defaults.
    let r = h
        .get(&format!("/api/team-members/tm_{p}_coordinator"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["isDefault"], true);
    assert_eq!(r.body["projectId"], json!(p));
    let r = h.get("/api/team-members/tm_missing").await;
    assert_error(&r, 404, "NOT_FOUND");

    // `team-member create "Profiled Bot" --mode worker --model-profile mp_heavy`.
    let r = h
        .post(
            "/api/team-members",
            json!({"projectId": p, "name": "Profiled Bot", "role": "r", "avatar": "🎛",
                   "mode": "execute", "agentTool": "claude-code", "identity": "",
                   "modelProfileId": "mp_heavy"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["modelProfileId"], "mp_heavy");
    assert!(r.body.get("scope").is_none());
    let profiled = r.body["id"].as_str().unwrap().to_owned();
    let r = h.get(&format!("/api/team-members/{profiled}")).await;
    assert_eq!(r.body["modelProfileId"], "mp_heavy", "found by id alone");

    // `team-member edit <id> --model-profile mp_balanced`, then `--model-profile ''`.
    let path = format!("/api/team-members/{profiled}");
    let r = h
        .patch(
            &path,
            json!({"projectId": p, "modelProfileId": "mp_balanced"}),
        )
        .await;
    assert_eq!(r.body["modelProfileId"], "mp_balanced");
    assert_eq!(
        last_event(&mut h, "team_member:updated")["modelProfileId"],
        "mp_balanced"
    );
    let r = h
        .patch(&path, json!({"projectId": p, "modelProfileId": ""}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("modelProfileId").is_none(), "{}", r.body);
    assert!(
        h.get(&format!("{path}?projectId={p}"))
            .await
            .body
            .get("modelProfileId")
            .is_none()
    );

    // `team-member edit <id> --scope global`, then `--scope project`.
    let r = h
        .patch(&path, json!({"projectId": p, "scope": "global"}))
        .await;
    assert_eq!(r.body["scope"], "global");
    let globals = h.get("/api/team-members").await.body;
    assert_eq!(globals.as_array().unwrap().len(), 2);
    let in_p2 = h
        .get(&format!("/api/team-members?projectId={p2}"))
        .await
        .body;
    assert!(
        in_p2
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == json!(profiled))
    );
    let r = h
        .patch(&path, json!({"projectId": p, "scope": "project"}))
        .await;
    assert_eq!(r.body["scope"], "project");
    assert_eq!(
        h.get("/api/team-members")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let in_p2 = h
        .get(&format!("/api/team-members?projectId={p2}"))
        .await
        .body;
    assert!(
        !in_p2
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == json!(profiled))
    );
    let r = h
        .patch(&path, json!({"projectId": p, "scope": "world"}))
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");

    // A default member: the binding goes to its override, `''` removes it again.
    let def = format!("/api/team-members/tm_{p}_simple_worker");
    let r = h
        .patch(&def, json!({"projectId": p, "modelProfileId": "mp_fast"}))
        .await;
    assert_eq!(r.body["modelProfileId"], "mp_fast");
    assert_eq!(r.body["isDefault"], true);
    let r = h
        .patch(&def, json!({"projectId": p, "modelProfileId": ""}))
        .await;
    assert!(r.body.get("modelProfileId").is_none(), "{}", r.body);

    // `soundInstrument` (desktop app): stored, `''` removes it, at most 100 characters.
    let r = h
        .post(
            "/api/team-members",
            json!({"projectId": p, "name": "Drummer", "role": "r", "avatar": "🥁",
                   "soundInstrument": "drums"}),
        )
        .await;
    assert_eq!(r.body["soundInstrument"], "drums");
    let drummer = format!("/api/team-members/{}", r.body["id"].as_str().unwrap());
    let r = h
        .patch(
            &drummer,
            json!({"projectId": p, "soundInstrument": "piano"}),
        )
        .await;
    assert_eq!(r.body["soundInstrument"], "piano");
    let r = h
        .patch(&drummer, json!({"projectId": p, "soundInstrument": ""}))
        .await;
    assert!(r.body.get("soundInstrument").is_none(), "{}", r.body);
    let r = h
        .patch(
            &drummer,
            json!({"projectId": p, "soundInstrument": "x".repeat(101)}),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    let r = h
        .patch(&drummer, json!({"projectId": p, "modelProfileId": "../mp"}))
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");

    // Lifecycle of a global member from any project: archive, gone from the lists, delete.
    let gpath = format!("/api/team-members/{global}");
    let r = h
        .post(&format!("{gpath}/archive"), json!({"projectId": p2}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "archived");
    assert_eq!(r.body["scope"], "global");
    assert_eq!(h.get("/api/team-members").await.body, json!([]));
    assert_eq!(
        h.get(&gpath).await.body["status"],
        "archived",
        "still found by id"
    );
    let r = h.delete(&format!("{gpath}?projectId={p2}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"success": true, "id": global}));
    assert_error(&h.get(&gpath).await, 404, "NOT_FOUND");
}
