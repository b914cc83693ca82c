//! Which `Host` names and browser `Origin`s the server answers (spec §8.1, §8.5): pure values,
//! built once from configuration by the server and asked by the CORS layer and by
//! [`crate::guard`], so REST requests and WebSocket upgrades follow one rule.
//!
//! - **Host** (DNS rebinding): a page on `http://evil.example:3000` whose name an attacker
//!   re-points at 127.0.0.1 reaches the local server with `Host: evil.example:3000`. Allowed
//!   are the loopback names — `localhost`, `*.localhost` (RFC 6761: they never leave the
//!   machine, and no one can publish DNS records for them), any `127.x.y.z`, `[::1]` — with
//!   any port, plus the names the server was given ([`HostPolicy::new`]). Ports are not
//!   compared: the rebinding attack is about the name.
//! - **Origin**: the configured list (and `external_url`); in `auth.mode = none` also
//!   `http(s)://` origins on a loopback name (a dev UI on `http://localhost:5173`, the desktop
//!   app on Windows and Android, `http://tauri.localhost`) and `tauri://localhost` (the desktop
//!   app on macOS and Linux); and a page the server itself served, whose origin names the
//!   request's own allowed `Host` ([`RequestPolicy::allows_origin`]).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use axum::http::Uri;
use axum::http::uri::Authority;

/// A configured origin or host name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `*` among the origins: CORS answers carry credentials, and `*` with credentials is
    /// what spec §8.5 forbids.
    #[error(
        "\"*\" is not allowed: CORS responses carry credentials, so every allowed origin must be listed (e.g. \"https://app.example.com\")"
    )]
    WildcardOrigin,
    /// Not `scheme://host[:port]`.
    #[error("{value:?} is not an origin (scheme://host[:port]): {reason}")]
    InvalidOrigin {
        /// The configured text.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not `host` or `host:port`.
    #[error("{value:?} is not a host name (host or host:port): {reason}")]
    InvalidHost {
        /// The configured text.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A parsed origin: lowercase scheme and host (IPv6 in brackets, no trailing dot) and the
/// port, `None` when absent or the scheme's default (so `https://a:443` equals `https://a`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses an `Origin` header value or a configured origin. A trailing `/` is tolerated
    /// (people paste URLs); a longer path, a query, user info or a missing host are not.
    fn parse(value: &str) -> Result<Self, &'static str> {
        let uri: Uri = value.trim().parse().map_err(|_| "not a URL")?;
        let scheme = uri.scheme_str().ok_or("no scheme")?.to_ascii_lowercase();
        let authority = uri.authority().ok_or("no host")?;
        if authority.as_str().contains('@') {
            return Err("user info is not part of an origin");
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err("an origin has no path or query");
        }
        let host = normalise_host(authority.host()).ok_or("no host")?;
        let port = authority
            .port_u16()
            .filter(|&p| Some(p) != default_port(&scheme));
        Ok(Self { scheme, host, port })
    }

    /// `http(s)` on a loopback name, or exactly `tauri://localhost`.
    fn is_local(&self) -> bool {
        match self.scheme.as_str() {
            "http" | "https" => is_loopback_host(&self.host),
            "tauri" => self.host == "localhost" && self.port.is_none(),
            _ => false,
        }
    }

    /// Whether this origin names the authority in a `Host` header value.
    fn names(&self, host: &str) -> bool {
        let Some((name, port)) = parse_host(host) else {
            return false;
        };
        let port = port.filter(|&p| Some(p) != default_port(&self.scheme));
        self.host == name && self.port == port
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Lowercase, without the trailing dot of a fully qualified name; `None` when empty.
fn normalise_host(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Splits a `Host` header value (`name`, `name:port`, `[v6]:port`) into its normalised name
/// and port; `None` when it is not an authority or carries user info.
fn parse_host(value: &str) -> Option<(String, Option<u16>)> {
    let authority: Authority = value.trim().parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let name = normalise_host(authority.host())?;
    Some((name, authority.port_u16()))
}

/// `localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]` (and `[::ffff:127.x.y.z]`); `host` is
/// normalised (lowercase, IPv6 in brackets).
pub fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return ip.is_loopback();
    }
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<Ipv6Addr>().ok())
        .is_some_and(|ip| {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        })
}

/// The `Host` names the server answers besides the loopback ones (spec §8.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPolicy {
    /// Normalised names (no port).
    names: BTreeSet<String>,
    /// `*` was configured: every name is accepted (the DNS-rebinding check is off).
    any: bool,
}

impl HostPolicy {
    /// Loopback names plus `names`: each `host`, `host:port` (the port is ignored), `[v6]`
    /// or a bare IPv6 address; `*` accepts every name.
    ///
    /// # Errors
    /// [`PolicyError::InvalidHost`] for an entry that is not a host name.
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Self, PolicyError> {
        let mut policy = Self::default();
        for name in names {
            let raw = name.as_ref().trim();
            if raw == "*" {
                policy.any = true;
                continue;
            }
            let invalid = |reason| PolicyError::InvalidHost {
                value: raw.to_owned(),
                reason,
            };
            if raw.contains('/') {
                return Err(invalid("give the name only, without scheme or path"));
            }
            // A bare IPv6 address (`::1`, as `host` is often written) needs brackets.
            let bracketed;
            let text = if raw.parse::<Ipv6Addr>().is_ok() {
                bracketed = format!("[{raw}]");
                bracketed.as_str()
            } else {
                raw
            };
            let (host, _) = parse_host(text).ok_or_else(|| invalid("not a host name"))?;
            policy.names.insert(host);
        }
        Ok(policy)
    }

    /// Whether a request with this `Host` header value (`name[:port]`) may be served.
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        parse_host(host)
            .is_some_and(|(name, _)| is_loopback_host(&name) || self.names.contains(&name))
    }
}

/// The browser origins allowed to call the API and open WebSockets (spec §8.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    /// Configured origins, parsed.
    listed: BTreeSet<Origin>,
    /// `auth.mode = none`: loopback origins and `tauri://localhost` too.
    local: bool,
}

impl OriginPolicy {
    /// `origins` (the `http.cors_origins` list and `external_url`) plus, when `local` is
    /// set (`auth.mode = none`), every `http(s)` origin on a loopback name and
    /// `tauri://localhost`.
    ///
    /// # Errors
    /// [`PolicyError::WildcardOrigin`] for `*`; [`PolicyError::InvalidOrigin`] for an entry
    /// that is not `scheme://host[:port]` (`null` included).
    pub fn new<S: AsRef<str>>(
        origins: impl IntoIterator<Item = S>,
        local: bool,
    ) -> Result<Self, PolicyError> {
        let mut listed = BTreeSet::new();
        for origin in origins {
            let raw = origin.as_ref().trim();
            if raw == "*" {
                return Err(PolicyError::WildcardOrigin);
            }
            let parsed = Origin::parse(raw).map_err(|reason| PolicyError::InvalidOrigin {
                value: raw.to_owned(),
                reason,
            })?;
            listed.insert(parsed);
        }
        Ok(Self { listed, local })
    }

    /// Whether this `Origin` header value is allowed on its own (without the same-origin
    /// rule of [`RequestPolicy::allows_origin`]). `null` and malformed values never are.
    pub fn allows(&self, origin: &str) -> bool {
        Origin::parse(origin).is_ok_and(|o| self.admits(&o))
    }

    fn admits(&self, origin: &Origin) -> bool {
        (self.local && origin.is_local()) || self.listed.contains(origin)
    }
}

/// The Host and Origin rules together: what [`crate::guard`] and the CORS layer ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPolicy {
    hosts: HostPolicy,
    origins: OriginPolicy,
}

impl Default for RequestPolicy {
    /// The `auth.mode = none` policy of a server without configuration: loopback hosts,
    /// loopback origins and `tauri://localhost`.
    fn default() -> Self {
        Self {
            hosts: HostPolicy::default(),
            origins: OriginPolicy {
                listed: BTreeSet::new(),
                local: true,
            },
        }
    }
}

impl RequestPolicy {
    /// Combines the two rules.
    pub fn new(hosts: HostPolicy, origins: OriginPolicy) -> Self {
        Self { hosts, origins }
    }

    /// Whether a request with this `Host` header value may be served.
    pub fn allows_host(&self, host: &str) -> bool {
        self.hosts.allows(host)
    }

    /// Whether a request from `origin` (the `Origin` header) may be answered with CORS
    /// headers or upgraded: an allowed origin ([`OriginPolicy::allows`]), or the server's own
    /// page — an origin naming exactly the request's `host` (same name and port), when that
    /// host is allowed. A page served under an allowed name was served by this server, so it
    /// may call it (the phone web client reached through `server_url`, spec §11).
    pub fn allows_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let Ok(parsed) = Origin::parse(origin) else {
            return false;
        };
        self.origins.admits(&parsed)
            || host.is_some_and(|h| self.hosts.allows(h) && parsed.names(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> RequestPolicy {
        RequestPolicy::default()
    }

    #[test]
    fn loopback_names() {
        for h in [
            "localhost",
            "app.localhost",
            "tauri.localhost",
            "127.0.0.1",
            "127.8.9.10",
            "[::1]",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "localhost.evil.example",
            "evil.example",
            "128.0.0.1",
            "0.0.0.0",
            "[::]",
            "[::2]",
            "192.168.1.2",
            "::1",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn hosts_allow_loopback_with_any_port_and_configured_names() {
        let p = HostPolicy::new(["maestro.example.com", "10.0.0.5:3000", "::1", "[fe80::1]"])
            .expect("valid");
        for h in [
            "localhost:3000",
            "LOCALHOST:1",
            "localhost.",
            "127.0.0.1:3000",
            "[::1]:3000",
            "dev.localhost:5173",
            "maestro.example.com",
            "Maestro.Example.com:443",
            "10.0.0.5:9999",
            "[fe80::1]:80",
        ] {
            assert!(p.allows(h), "{h}");
        }
        for h in [
            "evil.example:3000",
            "maestro.example.com.evil.example",
            "10.0.0.6:3000",
            "0.0.0.0:3000",
            "",
            "user@localhost",
            "local host",
        ] {
            assert!(!p.allows(h), "{h}");
        }
        assert!(HostPolicy::new(["*"]).expect("valid").allows("anything:1"));
    }

    #[test]
    fn bad_host_entries_are_refused() {
        for bad in ["http://a.example", "a.example/x", "", "a b"] {
            assert!(
                matches!(HostPolicy::new([bad]), Err(PolicyError::InvalidHost { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn local_origins_in_mode_none() {
        let p = local();
        for o in [
            "http://localhost:5173",
            "http://localhost",
            "https://localhost:8443",
            "http://127.0.0.1:3000",
            "http://[::1]:3000",
            "tauri://localhost",
            "http://tauri.localhost",
            "https://tauri.localhost",
        ] {
            assert!(p.allows_origin(o, None), "{o}");
        }
        for o in [
            "https://evil.example",
            "http://localhost.evil.example",
            "tauri://evil",
            "tauri://localhost:1234",
            "ftp://localhost",
            "null",
            "",
            "http://localhost:3000/path",
        ] {
            assert!(!p.allows_origin(o, None), "{o}");
        }
        let strict = OriginPolicy::new(["https://app.example.com"], false).expect("valid");
        assert!(!strict.allows("http://localhost:5173"));
        assert!(!strict.allows("tauri://localhost"));
        assert!(strict.allows("https://app.example.com"));
    }

    #[test]
    fn listed_origins_are_normalised() {
        let p = OriginPolicy::new(
            [
                "https://App.Example.com/",
                "http://dev.example:8080",
                "https://x.example:443",
            ],
            false,
        )
        .expect("valid");
        assert!(p.allows("https://app.example.com"));
        assert!(p.allows("https://app.example.com:443"));
        assert!(!p.allows("http://app.example.com"));
        assert!(p.allows("http://dev.example:8080"));
        assert!(!p.allows("http://dev.example"));
        assert!(p.allows("https://x.example"));
    }

    #[test]
    fn wildcard_and_malformed_origins_are_refused() {
        assert_eq!(
            OriginPolicy::new(["*"], true),
            Err(PolicyError::WildcardOrigin)
        );
        for bad in [
            "null",
            "app.example.com",
            "https://app.example.com/path",
            "https://u@app.example.com",
            "https://app.example.com?q",
        ] {
            assert!(
                matches!(
                    OriginPolicy::new([bad], false),
                    Err(PolicyError::InvalidOrigin { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn same_origin_needs_an_allowed_host_with_the_same_port() {
        let p = RequestPolicy::new(
            HostPolicy::new(["mybox.lan"]).expect("valid"),
            OriginPolicy::new(Vec::<String>::new(), false).expect("valid"),
        );
        assert!(p.allows_origin("http://mybox.lan:3000", Some("mybox.lan:3000")));
        assert!(p.allows_origin("https://mybox.lan", Some("mybox.lan")));
        assert!(p.allows_origin("https://mybox.lan", Some("mybox.lan:443")));
        assert!(!p.allows_origin("http://mybox.lan:3001", Some("mybox.lan:3000")));
        assert!(!p.allows_origin("http://mybox.lan", Some("mybox.lan:3000")));
        assert!(!p.allows_origin("http://mybox.lan:3000", None));
        // A rebound name matches its own Host, but that Host is not allowed.
        assert!(!p.allows_origin("http://evil.example:3000", Some("evil.example:3000")));
    }
}
