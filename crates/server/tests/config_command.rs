//! `maestro-server config` prints the effective configuration with secrets redacted, and an
//! invalid configuration stops the binary with a message naming the key (spec §9).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maestro-server"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home.path())
        .current_dir(home.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn config_prints_effective_values_with_secrets_redacted() {
    let out = run(
        &["config"],
        &[
            ("PORT", "4123"),
            ("DATA_DIR", "/srv/maestro"),
            ("REDIS_URL", "redis://user:hunter2@cache:6379"),
            ("SUPABASE_JWT_SECRET", "topsecret"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("port = 4123"), "{text}");
    assert!(text.contains("data_dir = \"/srv/maestro\""), "{text}");
    assert!(
        text.contains("redis://user:<redacted>@cache:6379"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !text.contains("topsecret"),
        "{text}"
    );
}

#[test]
fn invalid_configuration_names_the_key() {
    let out = run(&["config"], &[("MAESTRO_STORE__BACKEND", "mongo")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("store.backend"), "{err}");
    let out = run(&[], &[("PORT", "not-a-port")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("port"));
}

#[test]
fn postgres_switches_show_in_config_with_the_password_redacted() {
    let out = run(
        &["config"],
        &[
            ("SUPABASE_ENABLED", "true"),
            (
                "SUPABASE_DB_URL",
                "postgresql://postgres:s3cret@db.example.supabase.co:5432/postgres",
            ),
            ("MAESTRO_POSTGRES__SCHEMA", "maestro"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("backend = \"postgres\""), "{text}");
    assert!(
        text.contains("postgresql://postgres:<redacted>@db.example.supabase.co:5432/postgres"),
        "{text}"
    );
    assert!(text.contains("schema = \"maestro\""), "{text}");
    assert!(text.contains("migrate_on_start = true"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

#[test]
fn postgres_backend_without_url_names_the_key() {
    for env in [
        [("DATABASE_TYPE", "postgres")],
        [("SUPABASE_ENABLED", "true")],
    ] {
        let out = run(&[], &env);
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("postgres.url"), "{env:?}: {err}");
    }
    // Rolling back to the filesystem needs nothing else: the url may stay.
    let out = run(
        &["config"],
        &[
            ("DATABASE_TYPE", "filesystem"),
            ("DATABASE_URL", "postgres://u:pw@h/db"),
        ],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("backend = \"fs\""));
}
