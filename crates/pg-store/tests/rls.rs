//! Row-level security (migration 0002): a role acting for a user (JWT `sub` in
//! `request.jwt.claim.sub`, or Supabase's `request.jwt.claims` JSON) sees only the projects it
//! owns or is a member of, and only their tasks / sessions / mail; it cannot write into other
//! projects; the owner can.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use maestro_domain::testing::fixtures::{self, T0};
use tokio_postgres::{Client, NoTls};

use common::{TestSchema, admin_exec_blocking, database_url, random_name};

/// A NOLOGIN role, unique per test, dropped with its grants afterwards.
struct TestRole {
    url: String,
    name: String,
}

impl Drop for TestRole {
    fn drop(&mut self) {
        admin_exec_blocking(
            &self.url,
            &format!(
                "DROP OWNED BY \"{0}\"; DROP ROLE IF EXISTS \"{0}\"",
                self.name
            ),
        );
    }
}

fn uuid() -> String {
    let h = random_name("");
    let l = random_name("");
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &l[0..3],
        &l[3..15]
    )
}

fn pairs<'a>(c: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    c.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn connect(url: &str, schema: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("SET search_path TO \"{schema}\""))
        .await
        .unwrap();
    client
}

/// Ids of `SELECT id FROM <table>` run as `role` for the given claim settings, sorted.
async fn visible(
    client: &mut Client,
    role: &str,
    claims: &[(&str, &str)],
    table: &str,
) -> Vec<String> {
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(&format!("SET LOCAL ROLE \"{role}\""))
        .await
        .unwrap();
    for (k, v) in claims {
        tx.execute("SELECT set_config($1, $2, true)", &[k, v])
            .await
            .unwrap();
    }
    let mut ids: Vec<String> = tx
        .query(&format!("SELECT id FROM {table}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.rollback().await.unwrap();
    ids.sort();
    ids
}

/// Runs `sql` as `role` with `sub`; `Ok(rows affected)` or the error's SQLSTATE.
async fn write_as(client: &mut Client, role: &str, sub: &str, sql: &str) -> Result<u64, String> {
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(&format!("SET LOCAL ROLE \"{role}\""))
        .await
        .unwrap();
    tx.execute(
        "SELECT set_config('request.jwt.claim.sub', $1, true)",
        &[&sub],
    )
    .await
    .unwrap();
    let r = tx
        .execute(sql, &[])
        .await
        .map_err(|e| e.code().map(|c| c.code().to_owned()).unwrap_or_default());
    tx.rollback().await.unwrap();
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_see_and_change_only_their_projects() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let store = schema.migrated_store(2).await;
    let role = TestRole {
        url: url.clone(),
        name: random_name("mt_role_"),
    };
    let s = &schema.name;
    admin_exec_blocking(
        &url,
        &format!(
            "CREATE ROLE \"{r}\" NOLOGIN;
             GRANT USAGE ON SCHEMA \"{s}\" TO \"{r}\";
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{s}\" TO \"{r}\";",
            r = role.name
        ),
    );

    let (owner1, owner2, member2, stranger) = (uuid(), uuid(), uuid(), uuid());
    // Data written through the store (the table owner, which bypasses RLS).
    for (id, at) in [("proj_1", T0), ("proj_2", T0 + 1), ("proj_local", T0 + 2)] {
        store
            .projects
            .insert(fixtures::project(id, at))
            .await
            .unwrap();
    }
    for (id, p) in [
        ("task_1", "proj_1"),
        ("task_2", "proj_2"),
        ("task_l", "proj_local"),
    ] {
        store.tasks.insert(fixtures::task(id, p, T0)).await.unwrap();
    }
    for (id, p) in [("sess_1", "proj_1"), ("sess_2", "proj_2")] {
        store
            .sessions
            .upsert(fixtures::session(id, p, T0))
            .await
            .unwrap();
    }
    for (id, p) in [("mail_1", "proj_1"), ("mail_2", "proj_2")] {
        store
            .mail
            .insert(fixtures::mail(id, p, "sess_x", None, T0))
            .await
            .unwrap();
    }
    let mut admin = connect(&url, s).await;
    for (i, u) in [&owner1, &owner2, &member2, &stranger].iter().enumerate() {
        admin
            .execute(
                "INSERT INTO profiles (id, email) VALUES ($1::text::uuid, $2)",
                &[u, &format!("u{i}@example.com")],
            )
            .await
            .unwrap();
    }
    admin
        .execute(
            "UPDATE projects SET owner_id = $1::text::uuid WHERE id = 'proj_1'",
            &[&owner1],
        )
        .await
        .unwrap();
    admin
        .execute(
            "UPDATE projects SET owner_id = $1::text::uuid WHERE id = 'proj_2'",
            &[&owner2],
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES ('proj_2', $1::text::uuid, 'member')",
            &[&member2],
        )
        .await
        .unwrap();

    let r = role.name.as_str();
    let sub = |u: &str| [("request.jwt.claim.sub", u.to_owned())];

    // Owner of proj_1.
    for (table, expected) in [
        ("projects", vec!["proj_1"]),
        ("tasks", vec!["task_1"]),
        ("sessions", vec!["sess_1"]),
        ("mail", vec!["mail_1"]),
    ] {
        let c = sub(&owner1);
        assert_eq!(
            visible(&mut admin, r, &pairs(&c), table).await,
            expected,
            "owner1 {table}"
        );
    }
    // Member of proj_2 sees proj_2's rows.
    for (table, expected) in [
        ("projects", vec!["proj_2"]),
        ("tasks", vec!["task_2"]),
        ("sessions", vec!["sess_2"]),
        ("mail", vec!["mail_2"]),
    ] {
        let c = sub(&member2);
        assert_eq!(
            visible(&mut admin, r, &pairs(&c), table).await,
            expected,
            "member2 {table}"
        );
    }
    // Supabase style: the whole claims JSON in `request.jwt.claims`.
    let claims_json = format!(r#"{{"sub": "{owner2}", "role": "authenticated"}}"#);
    let c = [("request.jwt.claims", claims_json.as_str())];
    assert_eq!(visible(&mut admin, r, &c, "projects").await, ["proj_2"]);
    assert_eq!(visible(&mut admin, r, &c, "tasks").await, ["task_2"]);
    // A stranger and an anonymous caller see nothing (the owner-less local project included).
    let c = sub(&stranger);
    assert!(
        visible(&mut admin, r, &pairs(&c), "projects")
            .await
            .is_empty()
    );
    assert!(visible(&mut admin, r, &pairs(&c), "tasks").await.is_empty());
    assert!(visible(&mut admin, r, &[], "projects").await.is_empty());
    // Profiles: self only.
    let c = sub(&owner1);
    let c = pairs(&c);
    let own_profile: Vec<String> = {
        let tx = admin.transaction().await.unwrap();
        tx.batch_execute(&format!("SET LOCAL ROLE \"{r}\""))
            .await
            .unwrap();
        for (k, v) in &c {
            tx.execute("SELECT set_config($1, $2, true)", &[k, v])
                .await
                .unwrap();
        }
        let rows = tx
            .query("SELECT id::text FROM profiles", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        tx.rollback().await.unwrap();
        rows
    };
    assert_eq!(own_profile, std::slice::from_ref(&owner1));

    // Writes: not into another project; the owner can.
    let insert = |id: &str, project: &str| {
        format!(
            "INSERT INTO tasks (id, project_id, title, status, priority, created_at, updated_at) \
             VALUES ('{id}', '{project}', 't', 'todo', 'medium', 1, 1)"
        )
    };
    assert_eq!(
        write_as(&mut admin, r, &owner1, &insert("task_x", "proj_2")).await,
        Err("42501".to_owned()),
        "insert into another project violates the policy"
    );
    assert_eq!(
        write_as(
            &mut admin,
            r,
            &owner1,
            "UPDATE tasks SET title = 'hacked' WHERE project_id = 'proj_2'"
        )
        .await,
        Ok(0),
        "other projects' tasks are invisible to UPDATE"
    );
    assert_eq!(
        write_as(
            &mut admin,
            r,
            &owner1,
            "UPDATE tasks SET project_id = 'proj_2' WHERE id = 'task_1'"
        )
        .await,
        Err("42501".to_owned()),
        "cannot move a task into another project"
    );
    assert_eq!(
        write_as(&mut admin, r, &owner1, &insert("task_y", "proj_1")).await,
        Ok(1)
    );
    assert_eq!(
        write_as(
            &mut admin,
            r,
            &owner1,
            "UPDATE tasks SET title = 'mine' WHERE project_id = 'proj_1'"
        )
        .await,
        Ok(1)
    );
    // Members may write tasks of their project but not manage the project itself.
    assert_eq!(
        write_as(&mut admin, r, &member2, &insert("task_z", "proj_2")).await,
        Ok(1)
    );
    assert_eq!(
        write_as(
            &mut admin,
            r,
            &member2,
            "UPDATE projects SET name = 'x' WHERE id = 'proj_2'"
        )
        .await,
        Ok(0)
    );
    // Projects are created with owner = caller only.
    let new_project = |owner: &str| {
        format!(
            "INSERT INTO projects (id, name, owner_id, created_at, updated_at) \
             VALUES ('proj_new', 'n', '{owner}', 1, 1)"
        )
    };
    assert_eq!(
        write_as(&mut admin, r, &owner1, &new_project(&owner2)).await,
        Err("42501".to_owned())
    );
    assert_eq!(
        write_as(&mut admin, r, &owner1, &new_project(&owner1)).await,
        Ok(1)
    );
    // Nothing above was committed: the store still sees the original rows.
    assert_eq!(
        store.tasks.get("task_2").await.unwrap().unwrap().title,
        "Task task_2"
    );
    drop(admin);
    drop(store);
    drop(role);
}
