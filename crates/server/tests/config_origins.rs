//! `http.cors_origins`, `http.allowed_hosts`, `server_url` and `external_url` become the Host
//! and Origin rules of spec §8.1 / §8.5; bad values stop the start with the key named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use maestro_server::config::Config;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

fn refused(pairs: &[(&str, &str)], key: &str) {
    let err = Config::load(None, &env(pairs)).expect_err("refused");
    let text = err.to_string();
    assert!(text.contains(key), "{pairs:?}: {text}");
}

#[test]
fn a_wildcard_origin_is_refused_at_start_up() {
    refused(&[("CORS_ORIGINS", "*")], "http.cors_origins");
    refused(
        &[("CORS_ORIGINS", "https://a.example, *")],
        "http.cors_origins",
    );
    refused(&[("MAESTRO_HTTP__CORS_ORIGINS", "*")], "http.cors_origins");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("maestro.toml");
    std::fs::write(&file, "[http]\ncors_origins = [\"*\"]\n").unwrap();
    let err = Config::load(Some(&file), &env(&[])).expect_err("refused");
    assert!(err.to_string().contains("http.cors_origins"), "{err}");
    assert!(err.to_string().contains("credentials"), "{err}");
}

#[test]
fn malformed_entries_name_their_key() {
    refused(&[("CORS_ORIGINS", "app.example.com")], "http.cors_origins");
    refused(&[("CORS_ORIGINS", "null")], "http.cors_origins");
    refused(
        &[("MAESTRO_HTTP__ALLOWED_HOSTS", "https://a.example")],
        "http.allowed_hosts",
    );
    refused(&[("SERVER_URL", "localhost:3000")], "server_url");
    refused(
        &[
            ("EXTERNAL_URL", "ftp://x.example"),
            ("MAESTRO_AUTH__ALLOW_INSECURE_NONE", "true"),
        ],
        "external_url",
    );
}

#[test]
fn lists_come_from_comma_separated_variables() {
    let c = Config::load(
        None,
        &env(&[
            (
                "MAESTRO_HTTP__CORS_ORIGINS",
                "https://a.example, http://b.example:8080",
            ),
            ("MAESTRO_HTTP__ALLOWED_HOSTS", "maestro.lan,10.0.0.5"),
        ]),
    )
    .expect("loads");
    assert_eq!(
        c.http.cors_origins,
        ["https://a.example", "http://b.example:8080"]
    );
    assert_eq!(c.http.allowed_hosts, ["maestro.lan", "10.0.0.5"]);
    let p = c.request_policy().expect("policy");
    assert!(p.allows_origin("https://a.example", None));
    assert!(p.allows_origin("http://b.example:8080", None));
    assert!(p.allows_host("maestro.lan:3000"));
    assert!(p.allows_host("10.0.0.5"));
}

#[test]
fn defaults_serve_loopback_names_and_local_origins_only() {
    let p = Config::load(None, &env(&[]))
        .unwrap()
        .request_policy()
        .unwrap();
    for host in ["localhost:3000", "127.0.0.1:3000", "[::1]:3000"] {
        assert!(p.allows_host(host), "{host}");
    }
    assert!(!p.allows_host("evil.example:3000"));
    for origin in [
        "tauri://localhost",
        "http://tauri.localhost",
        "http://localhost:5173",
    ] {
        assert!(p.allows_origin(origin, None), "{origin}");
    }
    assert!(!p.allows_origin("https://evil.example", None));
}

#[test]
fn configured_urls_and_host_are_served() {
    let c = Config::load(
        None,
        &env(&[
            ("HOST", "192.168.1.5"),
            ("SERVER_URL", "http://mybox.lan:3000"),
            ("EXTERNAL_URL", "https://maestro.example.com"),
            ("MAESTRO_AUTH__ALLOW_INSECURE_NONE", "true"),
        ]),
    )
    .expect("loads");
    let p = c.request_policy().unwrap();
    for host in ["192.168.1.5:3000", "mybox.lan:3000", "maestro.example.com"] {
        assert!(p.allows_host(host), "{host}");
    }
    // external_url's origin is on the CORS list; server_url's page is same-origin only.
    assert!(p.allows_origin("https://maestro.example.com", None));
    assert!(!p.allows_origin("http://mybox.lan:3000", None));
    assert!(p.allows_origin("http://mybox.lan:3000", Some("mybox.lan:3000")));

    // A wildcard bind address is not a name anyone connects with.
    let c = Config::load(
        None,
        &env(&[
            ("HOST", "0.0.0.0"),
            ("MAESTRO_AUTH__ALLOW_INSECURE_NONE", "true"),
        ]),
    )
    .expect("loads");
    assert!(!c.request_policy().unwrap().allows_host("0.0.0.0:3000"));
    // An explicit `*` turns the Host check off.
    let c = Config::load(None, &env(&[("MAESTRO_HTTP__ALLOWED_HOSTS", "*")])).expect("loads");
    assert!(c.request_policy().unwrap().allows_host("anything.example"));
}

#[test]
fn local_origins_are_implicit_only_in_mode_none() {
    let c = Config::load(
        None,
        &env(&[
            ("MAESTRO_AUTH__MODE", "jwt"),
            ("CORS_ORIGINS", "https://app.example.com"),
        ]),
    )
    .expect("loads");
    let p = c.request_policy().unwrap();
    assert!(!p.allows_origin("tauri://localhost", None));
    assert!(!p.allows_origin("http://localhost:5173", None));
    assert!(p.allows_origin("https://app.example.com", None));
}
