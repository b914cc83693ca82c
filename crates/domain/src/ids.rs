//! Id generation and time, behind small ports so tests are deterministic.
//!
//! Ids follow the reference format `<prefix>_<epochMs>_<rand>` (ref §0): `rand` is up to nine
//! lower-case base-36 characters.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::error::{DomainError, DomainResult, FieldError};

/// Source of wall-clock time in epoch **milliseconds**.
pub trait Clock: Send + Sync {
    /// Current time, epoch ms.
    fn now_ms(&self) -> i64;
}

/// Generator of entity ids.
pub trait IdGenerator: Send + Sync {
    /// A fresh id `<prefix>_<epochMs>_<rand>`; `prefix` is e.g. `task`, `sess`, `evt`.
    fn generate(&self, prefix: &str) -> String;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests). Each read returns the current value.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// Starts at `ms`.
    pub fn new(ms: i64) -> Self {
        Self(AtomicI64::new(ms))
    }
    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    /// Sets the clock.
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Reference-format ids from the system clock and a random suffix.
#[derive(Debug, Default)]
pub struct RandomIdGenerator;

const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

impl IdGenerator for RandomIdGenerator {
    fn generate(&self, prefix: &str) -> String {
        use rand::Rng;
        let ms = SystemClock.now_ms();
        let mut rng = rand::rng();
        let suffix: String = (0..9)
            .map(|_| BASE36[rng.random_range(0..36)] as char)
            .collect();
        format!("{prefix}_{ms}_{suffix}")
    }
}

/// Deterministic ids for tests: `<prefix>_<clock ms>_<counter in base 36, 9 chars>`.
#[derive(Debug)]
pub struct SequentialIdGenerator {
    counter: AtomicU64,
    ms: Mutex<i64>,
}

impl SequentialIdGenerator {
    /// Ids embed `ms` as their time part.
    pub fn new(ms: i64) -> Self {
        Self {
            counter: AtomicU64::new(0),
            ms: Mutex::new(ms),
        }
    }
}

impl IdGenerator for SequentialIdGenerator {
    fn generate(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let ms = *self.ms.lock().unwrap_or_else(|e| e.into_inner());
        let mut digits = Vec::new();
        let mut v = n;
        while v > 0 {
            digits.push(BASE36[(v % 36) as usize]);
            v /= 36;
        }
        while digits.len() < 9 {
            digits.push(b'0');
        }
        digits.reverse();
        format!("{prefix}_{ms}_{}", String::from_utf8_lossy(&digits))
    }
}

/// True if `id` is acceptable as a path id (spec §2): `^[A-Za-z0-9_-]{1,128}$`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The id rule as error messages state it.
pub const ID_RULE: &str = "ids match ^[A-Za-z0-9_-]{1,128}$";

/// How many characters of a client-supplied value an error message echoes.
pub const SHOWN_CHARS: usize = 64;

/// `value` as an error message may echo it: the first [`SHOWN_CHARS`] characters, followed
/// by `…` when it was longer. Every message that repeats client input (ids, unknown enum
/// values, paths) goes through this, so a 60 KB id is not sent back in full.
pub fn shown(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(SHOWN_CHARS) {
        None => std::borrow::Cow::Borrowed(value),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &value[..cut])),
    }
}

/// Checks one id of a body or query against the id rule (spec §2, issue 12: every id that
/// names an entity, since it becomes a file name or a lookup key).
///
/// # Errors
/// `Validation` with `details: [{path, message}]`; the message echoes the value through
/// [`shown`].
pub fn check_id(path: &str, value: &str) -> DomainResult<()> {
    if is_valid_id(value) {
        return Ok(());
    }
    Err(DomainError::invalid_field(path, invalid_id_message(value)))
}

/// [`check_id`] for an optional id.
///
/// # Errors
/// As [`check_id`].
pub fn check_opt_id(path: &str, value: Option<&str>) -> DomainResult<()> {
    value.map_or(Ok(()), |v| check_id(path, v))
}

/// [`check_id`] for every element of a list; the details name each bad element as
/// `path[index]`.
///
/// # Errors
/// `Validation` listing every invalid element.
pub fn check_ids<S: AsRef<str>>(path: &str, values: &[S]) -> DomainResult<()> {
    let bad: Vec<FieldError> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !is_valid_id(v.as_ref()))
        .map(|(i, v)| FieldError::new(format!("{path}[{i}]"), invalid_id_message(v.as_ref())))
        .collect();
    match bad.first() {
        None => Ok(()),
        Some(first) => Err(DomainError::Validation {
            message: format!("Invalid value for '{}': {}", first.path, first.message),
            details: bad,
        }),
    }
}

/// `"<value>" is not a valid id (ids match …)`, the value shortened by [`shown`].
pub fn invalid_id_message(value: &str) -> String {
    format!("{:?} is not a valid id ({ID_RULE})", shown(value))
}

/// Formats epoch ms as ISO-8601 UTC with milliseconds, as JavaScript's `toISOString()` does:
/// `2026-02-19T09:37:59.123Z`.
pub fn iso_from_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_javascript() {
        assert_eq!(iso_from_ms(0), "1970-01-01T00:00:00.000Z");
        // new Date(1771493879123).toISOString()
        assert_eq!(iso_from_ms(1_771_493_879_123), "2026-02-19T09:37:59.123Z");
        assert_eq!(iso_from_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn random_ids_have_reference_shape() {
        let id = RandomIdGenerator.generate("task");
        let parts: Vec<_> = id.split('_').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "task");
        assert!(parts[1].parse::<i64>().is_ok());
        assert_eq!(parts[2].len(), 9);
        assert!(is_valid_id(&id));
        assert_ne!(id, RandomIdGenerator.generate("task"));
    }

    #[test]
    fn id_validation() {
        assert!(is_valid_id("tm_proj_1_abc_simple_worker"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("../etc"));
        assert!(!is_valid_id(&"a".repeat(129)));
        for bad in [".", ".hidden", "~", "\n", "a b", "a,b", "--output=/tmp/x"] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        // The rule allows a leading '-': whatever passes ids to a command line must still
        // keep them from being read as options (spawn, `manifest_cli`).
        assert!(is_valid_id("--model"));
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        assert_eq!(shown("abc"), "abc");
        let exact = "é".repeat(SHOWN_CHARS);
        assert_eq!(shown(&exact), exact);
        let long = "é".repeat(60_000);
        assert_eq!(shown(&long), format!("{}…", "é".repeat(SHOWN_CHARS)));

        let err = check_id("projectId", &"x".repeat(60_000)).unwrap_err();
        let DomainError::Validation { message, details } = err else {
            panic!("validation")
        };
        assert!(message.len() < 300, "{message}");
        assert_eq!(details.len(), 1);
        assert_eq!(details[0].path, "projectId");
        assert!(details[0].message.len() < 200, "{}", details[0].message);

        let err = check_ids("taskIds", &["task_1", "a/b", "task_2", "."]).unwrap_err();
        let DomainError::Validation { details, .. } = err else {
            panic!("validation")
        };
        let paths: Vec<_> = details.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["taskIds[1]", "taskIds[3]"]);
        assert!(check_ids::<&str>("taskIds", &[]).is_ok());
        assert!(check_opt_id("parentId", None).is_ok());
    }
}
