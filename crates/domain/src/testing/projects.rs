//! [`ProjectRepository`] contract cases (ref §2 IProjectRepository, spec §2).

use std::sync::Arc;

use crate::entities::{IS_MASTER, ProjectPatch};
use crate::ports::ProjectRepository;

use super::fixtures::{T0, extra, project};
use super::{assert_conflict, assert_not_found, ok};

/// Insert, get (including unknown keys), `None` for a missing id, `Conflict` on a
/// duplicate id.
pub async fn insert_get_conflict(repo: Arc<dyn ProjectRepository>) {
    let mut p = project("proj_1", T0);
    p.extra = extra();
    assert_eq!(ok(repo.insert(p.clone()).await, "insert"), p);
    assert_eq!(ok(repo.get("proj_1").await, "get"), Some(p.clone()));
    assert_eq!(ok(repo.get("proj_missing").await, "get missing"), None);
    assert_conflict(
        repo.insert(project("proj_1", T0 + 5)).await,
        "duplicate insert",
    );
    assert_eq!(ok(repo.get("proj_1").await, "get after conflict"), Some(p));
}

/// `list` returns creation time ascending, then id.
pub async fn list_order(repo: Arc<dyn ProjectRepository>) {
    for (id, at) in [("proj_c", T0 + 2), ("proj_b", T0 + 1), ("proj_a", T0 + 2)] {
        ok(repo.insert(project(id, at)).await, "insert");
    }
    let ids: Vec<String> = ok(repo.list().await, "list")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["proj_b", "proj_a", "proj_c"]);
}

/// `update` applies the patch, sets `updatedAt = now`, keeps id, `createdAt` and unknown
/// keys; `NotFound` for a missing project.
pub async fn update_rules(repo: Arc<dyn ProjectRepository>) {
    let mut p = project("proj_1", T0);
    p.extra = extra();
    ok(repo.insert(p.clone()).await, "insert");
    let patch = ProjectPatch {
        name: Some("Renamed".into()),
        working_dir: None,
        description: Some("desc".into()),
        is_master: None,
    };
    let updated = ok(repo.update("proj_1", &patch, T0 + 10).await, "update");
    assert_eq!(updated.name, "Renamed");
    assert_eq!(updated.working_dir, p.working_dir);
    assert_eq!(updated.description.as_deref(), Some("desc"));
    assert_eq!(updated.created_at, T0);
    assert_eq!(updated.updated_at, T0 + 10);
    assert_eq!(updated.extra, extra());
    assert_eq!(ok(repo.get("proj_1").await, "get"), Some(updated));
    assert_not_found(
        repo.update("proj_missing", &patch, T0).await,
        "update missing",
    );

    // The master flag (`PUT /api/projects/:id/master`): set, kept by other updates, unset
    // as a stored `false`.
    let master = |on| ProjectPatch {
        is_master: Some(on),
        ..ProjectPatch::default()
    };
    let set = ok(
        repo.update("proj_1", &master(true), T0 + 20).await,
        "set master",
    );
    assert_eq!(set.is_master(), Some(true));
    assert_eq!(set.name, "Renamed");
    let mut others = set.extra.clone();
    others.remove(IS_MASTER);
    assert_eq!(others, extra());
    let renamed = ok(repo.update("proj_1", &patch, T0 + 30).await, "update");
    assert_eq!(renamed.is_master(), Some(true), "an update keeps the flag");
    assert_eq!(ok(repo.get("proj_1").await, "get"), Some(renamed));
    let unset = ok(
        repo.update("proj_1", &master(false), T0 + 40).await,
        "unset",
    );
    assert_eq!(unset.is_master(), Some(false));
    assert_eq!(ok(repo.get("proj_1").await, "get"), Some(unset));
}

/// `delete` removes; a second delete is `NotFound`.
pub async fn delete(repo: Arc<dyn ProjectRepository>) {
    ok(repo.insert(project("proj_1", T0)).await, "insert");
    ok(repo.insert(project("proj_2", T0)).await, "insert");
    ok(repo.delete("proj_1").await, "delete");
    assert_eq!(ok(repo.get("proj_1").await, "get deleted"), None);
    assert_not_found(repo.delete("proj_1").await, "delete twice");
    assert_eq!(ok(repo.list().await, "list").len(), 1);
}

/// The newer reference's (653bc6a) `isMaster` round-trips as stored and is set by an update,
/// next to the other unknown keys; a project without it stays without it.
pub async fn newer_reference_fields(repo: Arc<dyn ProjectRepository>) {
    let mut master = project("proj_master", T0);
    master.extra = extra();
    master
        .extra
        .insert(IS_MASTER.to_owned(), serde_json::Value::Bool(true));
    ok(repo.insert(master.clone()).await, "insert master");
    ok(
        repo.insert(project("proj_plain", T0 + 1)).await,
        "insert plain",
    );
    let got = ok(repo.get("proj_master").await, "get").expect("stored");
    assert_eq!(got, master);
    assert_eq!(got.is_master(), Some(true));

    let off = ProjectPatch {
        is_master: Some(false),
        ..Default::default()
    };
    let updated = ok(repo.update("proj_master", &off, T0 + 2).await, "unset");
    assert_eq!(updated.is_master(), Some(false));
    assert_eq!(updated.extra.get("x-extra"), extra().get("x-extra"));
    assert_eq!(ok(repo.get("proj_master").await, "get"), Some(updated));

    let rename = ProjectPatch {
        name: Some("Plain".into()),
        ..Default::default()
    };
    let plain = ok(repo.update("proj_plain", &rename, T0 + 3).await, "rename");
    assert_eq!(plain.is_master(), None);
    assert!(plain.extra.is_empty(), "{:?}", plain.extra);
    let on = ProjectPatch {
        is_master: Some(true),
        ..Default::default()
    };
    let plain = ok(repo.update("proj_plain", &on, T0 + 4).await, "set");
    assert_eq!(
        ok(repo.get("proj_plain").await, "get").expect("stored"),
        plain
    );
    assert_eq!(plain.is_master(), Some(true));
}
