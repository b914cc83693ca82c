//! Text-only digests of Claude Code transcripts (ref §3.8, ref §1.12 `TextOnlyDigest`).
//!
//! A coordinator asks "what are my workers saying?" without reading whole transcripts. For a
//! session, the [`LogDigester`]:
//!
//! 1. finds the transcript directory under `~/.claude/projects` for the project's working
//!    directory (see [`transcript_dir_names`]);
//! 2. picks the `*.jsonl` file whose first 8 KB contain `<session_id>SESSION_ID</session_id>`
//!    (Maestro puts the session id in the agent's first prompt); the path is cached 60 s;
//! 3. reads the last 100 KB of it, parses each complete JSONL line, and keeps the real text
//!    written by the assistant or the user — tool calls, tool results, system reminders and
//!    slash-command echo are noise;
//! 4. returns the last `last` texts (each cut to `max_length` chars), the session's state,
//!    and a "stuck" warning when the agent has made many tool calls without saying anything
//!    for a while.
//!
//! File access is synchronous `std::fs`; async callers run it on a blocking thread. Nothing
//! here returns an error: a missing or unreadable transcript gives an empty digest, and
//! [`LogDigester::fallback`] is the shape for a session that could not be digested at all.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use maestro_domain::entities::{Session, SessionStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a found transcript path is reused without re-scanning the directory.
pub const PATH_CACHE_TTL_MS: i64 = 60_000;
/// How much of a transcript's head is searched for the session id marker.
pub const HEAD_BYTES: u64 = 8 * 1024;
/// How much of a transcript's tail is parsed.
pub const TAIL_BYTES: u64 = 100 * 1024;
/// More tool calls than this since the last assistant text may mean the agent is stuck.
pub const STUCK_TOOL_CALLS: u32 = 5;
/// ... if the last assistant text is at least this old.
pub const STUCK_SILENCE_MS: i64 = 30_000;

/// Options of a digest request (`last`, `maxLength` query parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestOptions {
    /// How many of the most recent text entries to return (default 5). `0` returns every
    /// entry found in the tail, like the reference's `slice(-0)`.
    pub last: usize,
    /// Maximum characters per entry before it is cut and `...` appended (default 150);
    /// `0` means unlimited.
    pub max_length: usize,
}

impl Default for DigestOptions {
    fn default() -> Self {
        Self {
            last: 5,
            max_length: 150,
        }
    }
}

/// What a session is doing, as far as the digest can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestState {
    /// Status `working` or `spawning`.
    Active,
    /// Any other status.
    Idle,
    /// `needsInput.active` is set (wins over the status).
    NeedsInput,
}

impl DigestState {
    /// The state of `session` (ref §3.8).
    pub fn of(session: &Session) -> Self {
        if session.needs_input_active() {
            Self::NeedsInput
        } else if matches!(
            session.status.known(),
            Some(SessionStatus::Working | SessionStatus::Spawning)
        ) {
            Self::Active
        } else {
            Self::Idle
        }
    }
}

/// Who wrote a digest entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntrySource {
    /// The agent.
    Assistant,
    /// The user (or whoever typed into the agent's terminal).
    User,
}

/// One piece of text from the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestEntry {
    /// When the transcript line was written, epoch ms.
    pub timestamp: i64,
    /// The text, whitespace collapsed, cut to `maxLength`.
    pub text: String,
    /// Who wrote it.
    pub source: EntrySource,
}

/// The "agent may be stuck" warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StuckInfo {
    /// Time since the last assistant text (or since the start of the parsed tail if there
    /// was none), ms.
    pub silent_duration_ms: i64,
    /// Tool calls since the last assistant text.
    pub tool_calls_since_last_text: u32,
    /// Human-readable warning.
    pub warning: String,
}

/// A session's digest (ref §1.12 `TextOnlyDigest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextOnlyDigest {
    /// Session id.
    pub session_id: String,
    /// Display name of the worker, when the caller knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_name: Option<String>,
    /// The session's tasks.
    pub task_ids: Vec<String>,
    /// What the session is doing.
    pub state: DigestState,
    /// The most recent texts, oldest first.
    pub entries: Vec<DigestEntry>,
    /// Set when the agent looks stuck, `null` otherwise.
    pub stuck: Option<StuckInfo>,
    /// Timestamp of the newest transcript line, or the session's `lastActivity` when there
    /// is no transcript (epoch ms).
    pub last_activity_timestamp: i64,
}

/// A cached transcript location.
#[derive(Debug, Clone)]
struct CachedPath {
    path: PathBuf,
    found_at_ms: i64,
}

/// Builds [`TextOnlyDigest`]s from the transcripts under a Claude projects directory.
#[derive(Debug)]
pub struct LogDigester {
    projects_dir: PathBuf,
    /// `(working dir, session id)` → transcript path.
    cache: Mutex<HashMap<(String, String), CachedPath>>,
}

impl LogDigester {
    /// A digester reading `claude_projects_dir` (normally `~/.claude/projects`).
    pub fn new(claude_projects_dir: PathBuf) -> Self {
        Self {
            projects_dir: claude_projects_dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The digest of `session`, whose project works in `working_dir`, as of `now_ms`.
    ///
    /// Without a transcript the digest has no entries, no stuck warning, and
    /// `lastActivityTimestamp = session.lastActivity`.
    pub fn digest(
        &self,
        session: &Session,
        working_dir: &str,
        opts: DigestOptions,
        worker_name: Option<String>,
        now_ms: i64,
    ) -> TextOnlyDigest {
        let mut digest = TextOnlyDigest {
            session_id: session.id.clone(),
            worker_name,
            task_ids: session.task_ids.clone(),
            state: DigestState::of(session),
            entries: Vec::new(),
            stuck: None,
            last_activity_timestamp: session.last_activity,
        };
        let Some(path) = self.transcript_path(&session.id, working_dir, now_ms) else {
            return digest;
        };
        let tail = match read_tail(&path, TAIL_BYTES) {
            Ok(tail) => tail,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read transcript");
                return digest;
            }
        };
        let parsed = parse_tail(&tail);
        if let Some(ts) = parsed.last_timestamp {
            digest.last_activity_timestamp = ts;
        }
        digest.stuck = parsed.stuck(now_ms);
        let skip = if opts.last == 0 {
            0
        } else {
            parsed.entries.len().saturating_sub(opts.last)
        };
        digest.entries = parsed
            .entries
            .into_iter()
            .skip(skip)
            .map(|mut entry| {
                entry.text = truncate(&entry.text, opts.max_length);
                entry
            })
            .collect();
        digest
    }

    /// The digest for a session that could not be digested (ref §3.8): idle, no entries.
    pub fn fallback(session_id: &str, now_ms: i64) -> TextOnlyDigest {
        TextOnlyDigest {
            session_id: session_id.to_owned(),
            worker_name: None,
            task_ids: Vec::new(),
            state: DigestState::Idle,
            entries: Vec::new(),
            stuck: None,
            last_activity_timestamp: now_ms,
        }
    }

    /// The transcript of `session_id`, from the cache if it is fresh and the file still
    /// exists, otherwise by scanning the candidate directories.
    fn transcript_path(&self, session_id: &str, working_dir: &str, now_ms: i64) -> Option<PathBuf> {
        let key = (working_dir.to_owned(), session_id.to_owned());
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(hit) = cache.get(&key)
                && now_ms.saturating_sub(hit.found_at_ms) < PATH_CACHE_TTL_MS
                && hit.path.is_file()
            {
                return Some(hit.path.clone());
            }
        }
        let found = transcript_dir_names(working_dir)
            .into_iter()
            .find_map(|name| find_transcript(&self.projects_dir.join(name), session_id));
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        // Drop expired entries so the map does not grow with every session ever digested.
        cache.retain(|_, v| now_ms.saturating_sub(v.found_at_ms) < PATH_CACHE_TTL_MS);
        match &found {
            Some(path) => {
                cache.insert(
                    key,
                    CachedPath {
                        path: path.clone(),
                        found_at_ms: now_ms,
                    },
                );
            }
            None => {
                cache.remove(&key);
            }
        }
        found
    }
}

/// The directory names under `~/.claude/projects` that may hold the transcripts of a
/// project working in `working_dir`, most likely first.
///
/// 1. Ref §3.8: every `/` replaced by `-`, the leading `-` removed
///    (`/home/u/proj` → `home-u-proj`).
/// 2. What Claude Code itself writes: the same with the leading `-` kept (`-home-u-proj`).
/// 3. Newer Claude Code versions also replace every other non-alphanumeric character
///    (`.`, `_`, spaces) by `-` (`/home/u/my.proj` → `-home-u-my-proj`).
///
/// Duplicates are removed; a trailing `/` on `working_dir` is ignored.
pub fn transcript_dir_names(working_dir: &str) -> Vec<String> {
    let trimmed = working_dir.trim_end_matches('/');
    let dir = if trimmed.is_empty() {
        working_dir
    } else {
        trimmed
    };
    let slashes = dir.replace('/', "-");
    let sanitized: String = dir
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut names: Vec<String> = Vec::new();
    for name in [
        slashes.strip_prefix('-').unwrap_or(&slashes).to_owned(),
        slashes.clone(),
        sanitized.clone(),
        sanitized.strip_prefix('-').unwrap_or(&sanitized).to_owned(),
    ] {
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The `*.jsonl` file in `dir` whose head holds the session id marker; the most recently
/// modified one if several do.
fn find_transcript(dir: &Path, session_id: &str) -> Option<PathBuf> {
    let entries = fs::read_dir(dir).ok()?;
    let marker = format!("<session_id>{session_id}</session_id>");
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let Ok(head) = read_head(&path, HEAD_BYTES) else {
            continue;
        };
        if !String::from_utf8_lossy(&head).contains(&marker) {
            continue;
        }
        let modified = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        if best.as_ref().is_none_or(|(t, _)| modified > *t) {
            best = Some((modified, path));
        }
    }
    best.map(|(_, path)| path)
}

fn read_head(path: &Path, bytes: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.take(bytes).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The last `bytes` of the file as text, starting at a line boundary: when the read starts
/// mid-file, the first (partial) line is dropped.
fn read_tail(path: &Path, bytes: u64) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(bytes);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    if start > 0 {
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                buf.drain(..=i);
            }
            None => buf.clear(),
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// What the parsed tail says.
#[derive(Debug, Default)]
struct ParsedTail {
    entries: Vec<DigestEntry>,
    /// Timestamp of the last assistant text.
    last_text_at: Option<i64>,
    /// Tool calls after the last assistant text.
    tool_calls_since_text: u32,
    first_timestamp: Option<i64>,
    last_timestamp: Option<i64>,
}

impl ParsedTail {
    fn stuck(&self, now_ms: i64) -> Option<StuckInfo> {
        let calls = self.tool_calls_since_text;
        if calls <= STUCK_TOOL_CALLS {
            return None;
        }
        match self.last_text_at {
            Some(at) => {
                let silent = now_ms.saturating_sub(at).max(0);
                (silent >= STUCK_SILENCE_MS).then(|| StuckInfo {
                    silent_duration_ms: silent,
                    tool_calls_since_last_text: calls,
                    warning: format!(
                        "No text output for {}s across {calls} tool calls; the agent may be stuck",
                        silent / 1000
                    ),
                })
            }
            None => {
                let since = self.first_timestamp.unwrap_or(now_ms);
                Some(StuckInfo {
                    silent_duration_ms: now_ms.saturating_sub(since).max(0),
                    tool_calls_since_last_text: calls,
                    warning: format!(
                        "No text output in the recent transcript across {calls} tool calls; \
                         the agent may be stuck"
                    ),
                })
            }
        }
    }
}

/// Parses complete JSONL lines; unparseable lines are skipped.
fn parse_tail(tail: &str) -> ParsedTail {
    let mut out = ParsedTail::default();
    for line in tail.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let timestamp = value.get("timestamp").and_then(parse_timestamp);
        if let Some(ts) = timestamp {
            out.first_timestamp.get_or_insert(ts);
            out.last_timestamp = Some(out.last_timestamp.map_or(ts, |t| t.max(ts)));
        }
        let source = match value.get("type").and_then(Value::as_str) {
            Some("assistant") => EntrySource::Assistant,
            Some("user") => EntrySource::User,
            _ => continue,
        };
        let content = value.get("message").and_then(|m| m.get("content"));
        let (texts, tool_uses) = content.map(content_parts).unwrap_or_default();
        let is_meta = value.get("isMeta").and_then(Value::as_bool) == Some(true);
        let text = if is_meta {
            None
        } else {
            clean_text(&texts.join("\n"))
        };
        if let (Some(text), Some(ts)) = (text, timestamp) {
            if source == EntrySource::Assistant {
                out.last_text_at = Some(ts);
                out.tool_calls_since_text = 0;
            }
            out.entries.push(DigestEntry {
                timestamp: ts,
                text,
                source,
            });
        }
        if source == EntrySource::Assistant {
            out.tool_calls_since_text = out.tool_calls_since_text.saturating_add(tool_uses);
        }
    }
    out
}

/// The text parts and the number of `tool_use` parts of a message's `content`. A string
/// content is one text part; `tool_result` and other parts are not text.
fn content_parts(content: &Value) -> (Vec<&str>, u32) {
    match content {
        Value::String(s) => (vec![s.as_str()], 0),
        Value::Array(parts) => {
            let mut texts = Vec::new();
            let mut tool_uses = 0u32;
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = part.get("text").and_then(Value::as_str) {
                            texts.push(t);
                        }
                    }
                    Some("tool_use") => tool_uses = tool_uses.saturating_add(1),
                    _ => {}
                }
            }
            (texts, tool_uses)
        }
        _ => (Vec::new(), 0),
    }
}

/// Tags whose presence marks a whole text as Claude Code plumbing rather than conversation.
const NOISE_TAGS: &[&str] = &[
    "<command-name>",
    "<command-message>",
    "<command-args>",
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<local-command-caveat>",
    "<user-prompt-submit-hook>",
];

/// Texts that Claude Code writes into the transcript on the user's behalf.
const NOISE_TEXTS: &[&str] = &[
    "[Request interrupted by user]",
    "[Request interrupted by user for tool use]",
];

/// Removes `<system-reminder>` blocks, drops plumbing texts, collapses whitespace. `None`
/// if nothing worth showing is left.
fn clean_text(raw: &str) -> Option<String> {
    let stripped = strip_blocks(raw, "<system-reminder>", "</system-reminder>");
    if NOISE_TAGS.iter().any(|tag| stripped.contains(tag)) {
        return None;
    }
    let text = stripped.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() || NOISE_TEXTS.contains(&text.as_str()) {
        return None;
    }
    Some(text)
}

/// `text` without every `open … close` block; an unclosed block runs to the end.
fn strip_blocks(text: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        let after_open = &rest[start + open.len()..];
        match after_open.find(close) {
            Some(end) => rest = &after_open[end + close.len()..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// The first `max` characters of `text` followed by `...`, or `text` itself if it fits or
/// `max` is 0.
fn truncate(text: &str, max: usize) -> String {
    if max == 0 {
        return text.to_owned();
    }
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A transcript timestamp: an ISO-8601 string (`2026-02-19T09:37:59.123Z`, offsets allowed)
/// or a number of epoch ms.
fn parse_timestamp(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => parse_iso8601_ms(s),
        _ => None,
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)` into epoch ms.
fn parse_iso8601_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_secs = match s.get(i..)? {
        "Z" | "z" | "" => 0,
        tz => {
            let sign = match tz.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = tz[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let hh: i64 = digits[..2].parse().ok()?;
            let mm: i64 = digits[2..].parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps_parse_to_epoch_ms() {
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_iso8601_ms("2026-02-19T09:37:59.123Z"),
            Some(1_771_493_879_123)
        );
        assert_eq!(
            parse_iso8601_ms("2026-02-19T10:37:59.123+01:00"),
            Some(1_771_493_879_123)
        );
        assert_eq!(
            parse_iso8601_ms("2000-03-01T00:00:00.5Z"),
            Some(951_868_800_500)
        );
        assert_eq!(parse_iso8601_ms("yesterday"), None);
        assert_eq!(parse_iso8601_ms("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn system_reminders_are_stripped() {
        assert_eq!(
            clean_text("Hi <system-reminder>x\ny</system-reminder> there"),
            Some("Hi there".to_owned())
        );
        assert_eq!(clean_text("<system-reminder>only</system-reminder>"), None);
        assert_eq!(
            clean_text("a <system-reminder>unclosed"),
            Some("a".to_owned())
        );
        assert_eq!(clean_text("<command-name>/clear</command-name>"), None);
    }

    #[test]
    fn truncation_counts_chars() {
        assert_eq!(truncate("héllo", 3), "hél...");
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo", 0), "héllo");
    }
}
