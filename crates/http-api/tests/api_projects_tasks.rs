//! Projects and tasks over HTTP (ref §4.2, §4.3): request/response pairs, events, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::{Harness, assert_error};

#[tokio::test]
async fn project_lifecycle_with_events() {
    let mut h = Harness::new();
    let r = h
        .post(
            "/api/projects",
            json!({ "name": "  Alpha  ", "workingDir": "/w", "extra": 1 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let p = r.body.clone();
    assert_eq!(p["name"], "Alpha");
    assert_eq!(p["workingDir"], "/w");
    assert_eq!(p["description"], "");
    assert!(p["id"].as_str().unwrap().starts_with("proj_"));
    assert_eq!(p["createdAt"], p["updatedAt"]);
    assert!(p.get("extra").is_none(), "unknown keys are not stored");
    let id = p["id"].as_str().unwrap().to_owned();
    let evs = h.drain();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].name, "project:created");
    assert_eq!(evs[0].project_id, id);
    assert_eq!(evs[0].data, p);

    assert_eq!(h.get("/api/projects").await.body, json!([p]));
    assert_eq!(h.get(&format!("/api/projects/{id}")).await.body, p);

    h.clock.advance(5);
    let r = h
        .put(
            &format!("/api/projects/{id}"),
            json!({ "description": "d", "bogus": true, "id": "x" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["description"], "d");
    assert_eq!(r.body["id"], json!(id));
    assert!(r.body.get("bogus").is_none());
    assert_eq!(
        r.body["updatedAt"].as_i64().unwrap(),
        p["createdAt"].as_i64().unwrap() + 5
    );
    assert_eq!(h.names(), ["project:updated"]);

    assert_error(
        &h.put(&format!("/api/projects/{id}"), json!({ "name": "  " }))
            .await,
        400,
        "VALIDATION_ERROR",
    );
    assert_error(&h.get("/api/projects/proj_missing").await, 404, "NOT_FOUND");

    let r = h.delete(&format!("/api/projects/{id}")).await;
    assert_eq!(r.body, json!({ "success": true, "id": id }));
    let evs = h.drain();
    assert_eq!(evs[0].name, "project:deleted");
    assert_eq!(evs[0].data, json!({ "id": id }));
    assert_error(
        &h.delete(&format!("/api/projects/{id}")).await,
        404,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn project_errors() {
    let mut h = Harness::new();
    let r = h.post("/api/projects", json!({})).await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["message"], "Project name is required");
    assert!(h.drain().is_empty(), "no event on failure");

    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    let r = h.delete(&format!("/api/projects/{p}")).await;
    assert_error(&r, 422, "BUSINESS_RULE_ERROR");
    assert_eq!(
        r.body["message"],
        "Cannot delete project with existing tasks"
    );
    h.delete(&format!("/api/tasks/{t}")).await;
    h.session(&p, &[]).await;
    let r = h.delete(&format!("/api/projects/{p}")).await;
    assert_eq!(
        r.body["message"],
        "Cannot delete project with existing sessions"
    );
}

#[tokio::test]
async fn task_create_defaults_and_validation_order() {
    let mut h = Harness::new();
    let r = h.post("/api/tasks", json!({ "title": "x" })).await;
    assert_eq!(r.body["message"], "Project ID is required");
    let r = h
        .post("/api/tasks", json!({ "projectId": "p1", "title": " " }))
        .await;
    assert_eq!(r.body["message"], "Task title is required");
    let r = h
        .post("/api/tasks", json!({ "projectId": "p1", "title": "x" }))
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    assert_eq!(r.body["message"], "Project with id 'p1' not found");
    let p = h.project("P").await;
    let r = h
        .post(
            "/api/tasks",
            json!({ "projectId": p, "title": "x", "parentId": "task_nope" }),
        )
        .await;
    assert_eq!(
        r.body["message"],
        "Parent task with id 'task_nope' not found"
    );

    let r = h
        .post(
            "/api/tasks",
            json!({ "projectId": p, "title": " Build ", "priority": "high", "skillIds": ["s"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let t = &r.body;
    assert_eq!(t["title"], "Build");
    assert_eq!(t["status"], "todo");
    assert_eq!(t["priority"], "high");
    assert_eq!(t["parentId"], json!(null));
    assert_eq!(t["startedAt"], json!(null));
    assert_eq!(t["completedAt"], json!(null));
    assert_eq!(t["sessionIds"], json!([]));
    assert_eq!(t["skillIds"], json!(["s"]));
    assert_eq!(t["dependencies"], json!([]));
    assert_eq!(t["referenceTaskIds"], json!([]));
    assert_eq!(t["description"], "");
    assert_eq!(t["initialPrompt"], "");
    assert!(
        t.get("taskSessionStatuses").is_none(),
        "absent on a fresh task (ref §1.2)"
    );
    assert!(t.get("pinned").is_none());
    let evs = h.drain();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].name, "task:created");
    assert_eq!(&evs[0].data, t);

    let r = h
        .post(
            "/api/tasks",
            json!({ "projectId": p, "title": "x", "priority": "urgent" }),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["path"], "priority");
}

#[tokio::test]
async fn task_update_user_form_and_notifications() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    h.clock.advance(10);
    let r = h
        .patch(
            &format!("/api/tasks/{t}"),
            json!({ "status": "in_progress", "pinned": true }),
        )
        .await;
    let started = r.body["startedAt"].as_i64().unwrap();
    assert_eq!(r.body["pinned"], true);
    assert_eq!(h.names(), ["task:updated"]);
    h.clock.advance(10);
    h.patch(&format!("/api/tasks/{t}"), json!({ "status": "todo" }))
        .await;
    let r = h
        .patch(
            &format!("/api/tasks/{t}"),
            json!({ "status": "in_progress" }),
        )
        .await;
    assert_eq!(
        r.body["startedAt"].as_i64().unwrap(),
        started,
        "startedAt set once"
    );
    h.drain();

    for (status, note) in [
        ("completed", "notify:task_completed"),
        ("cancelled", "notify:task_failed"),
        ("in_review", "notify:task_in_review"),
        ("blocked", "notify:task_blocked"),
    ] {
        h.patch(&format!("/api/tasks/{t}"), json!({ "status": status }))
            .await;
        let evs = h.drain();
        assert_eq!(
            evs.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["task:updated", note]
        );
        assert_eq!(evs[1].data, json!({ "taskId": t, "title": "T" }));
        // Same status again: no notification.
        h.patch(&format!("/api/tasks/{t}"), json!({ "status": status }))
            .await;
        assert_eq!(h.names(), ["task:updated"]);
    }

    let r = h
        .patch(
            &format!("/api/tasks/{t}"),
            json!({ "taskSessionStatuses": { "s1": "working", "s2": "completed" } }),
        )
        .await;
    assert_eq!(
        r.body["taskSessionStatuses"],
        json!({ "s1": "working", "s2": "completed" })
    );
    let evs = h.drain();
    assert_eq!(evs[1].name, "notify:task_session_completed");
    assert_eq!(
        evs[1].data,
        json!({ "taskId": t, "sessionId": "s2", "title": "T" })
    );
    let r = h
        .patch(
            &format!("/api/tasks/{t}"),
            json!({ "taskSessionStatuses": { "s1": "failed" } }),
        )
        .await;
    assert_eq!(
        r.body["taskSessionStatuses"],
        json!({ "s1": "failed", "s2": "completed" }),
        "merged"
    );
    assert_eq!(h.names(), ["task:updated", "notify:task_session_failed"]);

    let r = h
        .patch(&format!("/api/tasks/{t}"), json!({ "title": "" }))
        .await;
    assert_eq!(r.body["message"], "Task title cannot be empty");
    let r = h
        .patch(&format!("/api/tasks/{t}"), json!({ "status": "done" }))
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["path"], "status");
    assert_error(
        &h.patch("/api/tasks/task_x", json!({ "title": "a" })).await,
        404,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn task_update_session_form_links_and_sets_only_its_status() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    let s = h.session(&p, &[]).await;
    let r = h
        .patch(
            &format!("/api/tasks/{t}"),
            json!({ "updateSource": "session", "sessionId": s, "sessionStatus": "working", "title": "ignored" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], "T");
    assert_eq!(
        r.body["taskSessionStatuses"],
        json!({ s.clone(): "working" })
    );
    assert_eq!(r.body["sessionIds"], json!([s]));
    assert_eq!(r.body["status"], "todo");
    assert_eq!(
        h.names(),
        ["session:task_added", "task:session_added", "task:updated"]
    );
    let session = h.get(&format!("/api/sessions/{s}")).await.body;
    assert_eq!(session["taskIds"], json!([t]));
    assert_eq!(
        session["timeline"].as_array().unwrap().last().unwrap()["message"],
        "Added task to session"
    );

    // Already linked: no link events again.
    h.patch(
        &format!("/api/tasks/{t}"),
        json!({ "updateSource": "session", "sessionId": s, "sessionStatus": "completed" }),
    )
    .await;
    assert_eq!(h.names(), ["task:updated", "notify:task_session_completed"]);
    let r = h
        .patch(&format!("/api/tasks/{t}"), json!({ "updateSource": "session", "sessionId": "sess_nope", "sessionStatus": "working" }))
        .await;
    assert_error(&r, 404, "NOT_FOUND");
}

#[tokio::test]
async fn task_delete_cascades_children_first_and_unlinks_sessions() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let root = h.task(&p, "root").await;
    let a = h
        .post(
            "/api/tasks",
            json!({ "projectId": p, "title": "a", "parentId": root }),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a1 = h
        .post(
            "/api/tasks",
            json!({ "projectId": p, "title": "a1", "parentId": a }),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = h
        .post(
            "/api/tasks",
            json!({ "projectId": p, "title": "b", "parentId": root }),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = h.session(&p, &[&a1]).await;

    let kids = h.get(&format!("/api/tasks/{root}/children")).await.body;
    assert_eq!(
        kids.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].clone())
            .collect::<Vec<_>>(),
        [json!(a), json!(b)]
    );
    let roots = h
        .get(&format!("/api/tasks?projectId={p}&parentId=null"))
        .await
        .body;
    assert_eq!(roots.as_array().unwrap().len(), 1);

    let r = h.delete(&format!("/api/tasks/{root}")).await;
    assert_eq!(r.body, json!({ "success": true, "id": root }));
    let deleted: Vec<_> = h
        .drain()
        .iter()
        .filter(|e| e.name == "task:deleted")
        .map(|e| e.data.to_value()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        deleted,
        [b.clone(), a1.clone(), a.clone(), root.clone()],
        "children before parents"
    );
    assert_eq!(
        h.get(&format!("/api/tasks?projectId={p}")).await.body,
        json!([])
    );
    assert_eq!(
        h.get(&format!("/api/sessions/{s}")).await.body["taskIds"],
        json!([])
    );
    assert_error(
        &h.get(&format!("/api/tasks/{a}/children")).await,
        404,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn task_timeline_and_docs() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    let s = h.session(&p, &[]).await;
    let r = h
        .post(
            &format!("/api/tasks/{t}/timeline"),
            json!({ "sessionId": s }),
        )
        .await;
    assert_eq!(r.body["message"], "message is required");
    let r = h
        .post(
            &format!("/api/tasks/{t}/timeline"),
            json!({ "message": "m" }),
        )
        .await;
    assert_eq!(r.body["message"], "sessionId is required");
    let r = h
        .post(
            &format!("/api/tasks/{t}/timeline"),
            json!({ "message": "half", "sessionId": s }),
        )
        .await;
    assert_eq!(
        r.body,
        json!({ "success": true, "taskId": t, "sessionId": s, "message": "half", "type": "progress" })
    );
    assert_eq!(h.names(), ["session:updated", "notify:progress"]);

    let r = h
        .post(
            &format!("/api/tasks/{t}/docs"),
            json!({ "title": "Spec", "filePath": "/d.md", "sessionId": s }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["success"], true);
    assert!(r.body["addedAt"].is_i64());
    let names = h.names();
    assert_eq!(
        names,
        [
            "session:updated",
            "session:task_added",
            "task:session_added"
        ],
        "doc links the session"
    );
    let docs = h.get(&format!("/api/tasks/{t}/docs")).await.body;
    assert_eq!(docs[0]["title"], "Spec");
    assert_eq!(docs[0]["taskId"], json!(t));
    assert_eq!(docs[0]["sessionId"], json!(s));
    assert_eq!(docs[0]["sessionName"], "Unnamed Session");
    let r = h
        .post(
            &format!("/api/tasks/{t}/docs"),
            json!({ "title": "Spec", "sessionId": s }),
        )
        .await;
    assert_eq!(r.body["message"], "filePath is required");
}

#[tokio::test]
async fn task_list_filters() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let q = h.project("Q").await;
    let t1 = h.task(&p, "1").await;
    h.task(&q, "2").await;
    h.patch(&format!("/api/tasks/{t1}"), json!({ "status": "blocked" }))
        .await;
    let r = h
        .get(&format!("/api/tasks?projectId={p}&status=blocked"))
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(h.get("/api/tasks").await.body.as_array().unwrap().len(), 2);
    assert_error(
        &h.get("/api/tasks?status=nope").await,
        400,
        "VALIDATION_ERROR",
    );
    // Stable order: creation time then id.
    let all = h.get("/api/tasks").await.body;
    assert_eq!(all[0]["title"], "1");
}
