//! `LogDigester` against hand-written Claude Code transcripts in temporary directories.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use maestro_domain::entities::Session;
use maestro_http_api::log_digest::{
    DigestOptions, DigestState, EntrySource, LogDigester, transcript_dir_names,
};
use serde_json::{Value, json};
use tempfile::TempDir;

/// 2026-02-19T09:00:00.000Z in epoch ms.
const BASE_MS: i64 = 1_771_491_600_000;
const SESSION: &str = "sess_1771491600000_abc123xyz";
const WORKING_DIR: &str = "/home/user/proj";

/// ISO timestamp `sec` seconds after 09:00:00 (sec < 3600).
fn iso(sec: i64) -> String {
    format!("2026-02-19T09:{:02}:{:02}.000Z", sec / 60, sec % 60)
}

fn at(sec: i64) -> i64 {
    BASE_MS + sec * 1000
}

fn session(status: &str) -> Session {
    serde_json::from_value(json!({
        "id": SESSION,
        "projectId": "proj_1",
        "taskIds": ["task_1", "task_2"],
        "name": "Worker",
        "status": status,
        "startedAt": BASE_MS,
        "lastActivity": BASE_MS + 42,
    }))
    .expect("session")
}

fn prompt(sec: i64, session_id: &str) -> String {
    json!({
        "type": "user",
        "timestamp": iso(sec),
        "message": {"role": "user", "content": format!("Start work.\n<session_id>{session_id}</session_id>")}
    })
    .to_string()
}

fn assistant_text(sec: i64, text: &str) -> String {
    json!({
        "type": "assistant",
        "timestamp": iso(sec),
        "message": {"role": "assistant", "content": [{"type": "text", "text": text}]}
    })
    .to_string()
}

fn tool_use(sec: i64) -> String {
    json!({
        "type": "assistant",
        "timestamp": iso(sec),
        "message": {"role": "assistant", "content": [
            {"type": "tool_use", "id": format!("toolu_{sec}"), "name": "Bash", "input": {"command": "ls"}}
        ]}
    })
    .to_string()
}

fn tool_result(sec: i64) -> String {
    json!({
        "type": "user",
        "timestamp": iso(sec),
        "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": format!("toolu_{sec}"), "content": "file.txt"}
        ]}
    })
    .to_string()
}

fn user_text(sec: i64, text: &str) -> String {
    json!({
        "type": "user",
        "timestamp": iso(sec),
        "message": {"role": "user", "content": text}
    })
    .to_string()
}

/// Writes `lines` as `<projects>/<dir>/<file>`.
fn transcript(projects: &Path, dir: &str, file: &str, lines: &[String]) -> PathBuf {
    let dir = projects.join(dir);
    fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join(file);
    fs::write(&path, lines.join("\n") + "\n").expect("write transcript");
    path
}

fn texts(digest: &maestro_http_api::log_digest::TextOnlyDigest) -> Vec<&str> {
    digest.entries.iter().map(|e| e.text.as_str()).collect()
}

#[test]
fn directory_names_follow_the_reference_then_claude_code() {
    assert_eq!(
        transcript_dir_names("/home/user/proj"),
        ["home-user-proj", "-home-user-proj"]
    );
    assert_eq!(
        transcript_dir_names("/home/user/proj/"),
        ["home-user-proj", "-home-user-proj"]
    );
    assert_eq!(
        transcript_dir_names("/home/user/my.proj"),
        [
            "home-user-my.proj",
            "-home-user-my.proj",
            "-home-user-my-proj",
            "home-user-my-proj"
        ]
    );
}

#[test]
fn finds_the_transcript_in_the_reference_directory_name() {
    let projects = TempDir::new().expect("tempdir");
    transcript(
        projects.path(),
        "home-user-proj",
        "a.jsonl",
        &[prompt(0, SESSION), assistant_text(5, "Reading the code.")],
    );
    let digester = LogDigester::new(projects.path().to_path_buf());
    let digest = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(10),
    );
    assert_eq!(
        texts(&digest),
        [
            "Start work. <session_id>sess_1771491600000_abc123xyz</session_id>",
            "Reading the code."
        ]
    );
}

#[test]
fn finds_the_transcript_in_the_directory_claude_code_writes() {
    let projects = TempDir::new().expect("tempdir");
    transcript(
        projects.path(),
        "-home-user-proj",
        "a.jsonl",
        &[prompt(0, SESSION), assistant_text(5, "Reading the code.")],
    );
    let digester = LogDigester::new(projects.path().to_path_buf());
    let digest = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(10),
    );
    assert_eq!(
        digest.entries.last().map(|e| e.text.as_str()),
        Some("Reading the code.")
    );
}

#[test]
fn picks_the_file_whose_head_names_the_session() {
    let projects = TempDir::new().expect("tempdir");
    let dir = "home-user-proj";
    transcript(
        projects.path(),
        dir,
        "other.jsonl",
        &[prompt(0, "sess_other"), assistant_text(1, "Wrong one.")],
    );
    transcript(
        projects.path(),
        dir,
        "notes.txt",
        &[prompt(0, SESSION), assistant_text(1, "Not jsonl.")],
    );
    transcript(
        projects.path(),
        dir,
        "mine.jsonl",
        &[prompt(0, SESSION), assistant_text(1, "Right one.")],
    );
    let digester = LogDigester::new(projects.path().to_path_buf());
    let digest = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(10),
    );
    assert_eq!(
        digest.entries.last().map(|e| e.text.as_str()),
        Some("Right one.")
    );
}

#[test]
fn a_marker_beyond_the_first_8_kb_does_not_count() {
    let projects = TempDir::new().expect("tempdir");
    let filler = user_text(0, &"x".repeat(9000));
    transcript(
        projects.path(),
        "home-user-proj",
        "late.jsonl",
        &[filler, prompt(1, SESSION), assistant_text(2, "Hidden.")],
    );
    let digester = LogDigester::new(projects.path().to_path_buf());
    let s = session("working");
    let digest = digester.digest(&s, WORKING_DIR, DigestOptions::default(), None, at(10));
    assert!(digest.entries.is_empty());
    assert_eq!(digest.last_activity_timestamp, s.last_activity);
}

#[test]
fn missing_transcript_gives_an_empty_digest() {
    let projects = TempDir::new().expect("tempdir");
    let digester = LogDigester::new(projects.path().join("does-not-exist"));
    let digest = digester.digest(
        &session("spawning"),
        WORKING_DIR,
        DigestOptions::default(),
        Some("Builder".to_owned()),
        at(100),
    );
    assert_eq!(
        serde_json::to_value(&digest).expect("serialize"),
        json!({
            "sessionId": SESSION,
            "workerName": "Builder",
            "taskIds": ["task_1", "task_2"],
            "state": "active",
            "entries": [],
            "stuck": null,
            "lastActivityTimestamp": BASE_MS + 42
        })
    );
}

#[test]
fn only_real_text_counts_and_noise_is_filtered() {
    let projects = TempDir::new().expect("tempdir");
    let meta = json!({
        "type": "user", "isMeta": true, "timestamp": iso(3),
        "message": {"role": "user", "content": "Caveat: generated by local commands."}
    })
    .to_string();
    let summary = json!({"type": "summary", "summary": "Not a message"}).to_string();
    transcript(
        projects.path(),
        "home-user-proj",
        "t.jsonl",
        &[
            prompt(0, SESSION),
            assistant_text(1, "Plan:\n  1. read\n  2. fix"),
            tool_use(2),
            tool_result(2),
            meta,
            summary,
            "{not json".to_owned(),
            user_text(4, "<command-name>/clear</command-name>\n<command-args></command-args>"),
            user_text(5, "<local-command-stdout>done</local-command-stdout>"),
            user_text(6, "<system-reminder>Remember the rules.</system-reminder>"),
            user_text(7, "Please also fix the docs.<system-reminder>\nhidden\n</system-reminder>"),
            json!({
                "type": "user", "timestamp": iso(8),
                "message": {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "x", "content": [{"type": "text", "text": "tool output"}]},
                    {"type": "text", "text": "And the README."}
                ]}
            })
            .to_string(),
            user_text(9, "[Request interrupted by user]"),
            assistant_text(10, "   "),
            assistant_text(11, "Done."),
        ],
    );
    let digester = LogDigester::new(projects.path().to_path_buf());
    let opts = DigestOptions {
        last: 0,
        max_length: 0,
    };
    let digest = digester.digest(&session("working"), WORKING_DIR, opts, None, at(12));
    let got: Vec<(i64, &str, EntrySource)> = digest
        .entries
        .iter()
        .map(|e| (e.timestamp, e.text.as_str(), e.source))
        .collect();
    assert_eq!(
        got,
        [
            (
                at(0),
                "Start work. <session_id>sess_1771491600000_abc123xyz</session_id>",
                EntrySource::User
            ),
            (at(1), "Plan: 1. read 2. fix", EntrySource::Assistant),
            (at(7), "Please also fix the docs.", EntrySource::User),
            (at(8), "And the README.", EntrySource::User),
            (at(11), "Done.", EntrySource::Assistant),
        ]
    );
    assert_eq!(digest.last_activity_timestamp, at(11));
    let json = serde_json::to_value(&digest).expect("serialize");
    assert_eq!(
        json["entries"][1],
        json!({"timestamp": at(1), "text": "Plan: 1. read 2. fix", "source": "assistant"})
    );
    assert!(json.get("workerName").is_none());
}

#[test]
fn returns_the_last_entries_truncated() {
    let projects = TempDir::new().expect("tempdir");
    let mut lines = vec![prompt(0, SESSION)];
    for i in 1..=8 {
        lines.push(assistant_text(i, &format!("Step {i}")));
    }
    let long = "a".repeat(200);
    lines.push(assistant_text(9, &long));
    transcript(projects.path(), "home-user-proj", "t.jsonl", &lines);
    let digester = LogDigester::new(projects.path().to_path_buf());
    let s = session("working");

    let d = digester.digest(&s, WORKING_DIR, DigestOptions::default(), None, at(10));
    let expected_long = format!("{}...", "a".repeat(150));
    assert_eq!(
        texts(&d),
        [
            "Step 5",
            "Step 6",
            "Step 7",
            "Step 8",
            expected_long.as_str()
        ]
    );

    let d = digester.digest(
        &s,
        WORKING_DIR,
        DigestOptions {
            last: 2,
            max_length: 0,
        },
        None,
        at(10),
    );
    assert_eq!(texts(&d), ["Step 8", long.as_str()]);

    let d = digester.digest(
        &s,
        WORKING_DIR,
        DigestOptions {
            last: 1,
            max_length: 10,
        },
        None,
        at(10),
    );
    assert_eq!(texts(&d), ["aaaaaaaaaa..."]);

    let d = digester.digest(
        &s,
        WORKING_DIR,
        DigestOptions {
            last: 100,
            max_length: 4,
        },
        None,
        at(10),
    );
    assert_eq!(d.entries.len(), 10);
    assert_eq!(d.entries[1].text, "Step...");
}

#[test]
fn only_the_last_100_kb_are_read() {
    let projects = TempDir::new().expect("tempdir");
    let mut lines = vec![prompt(0, SESSION), assistant_text(1, "Too old to see.")];
    // ~120 KB of lines without text.
    let padding = "p".repeat(1000);
    for i in 0..120 {
        lines.push(
            json!({"type": "progress", "timestamp": iso(2), "n": i, "pad": padding}).to_string(),
        );
    }
    lines.push(assistant_text(3, "Recent."));
    let path = transcript(projects.path(), "home-user-proj", "t.jsonl", &lines);
    assert!(fs::metadata(&path).expect("metadata").len() > 110 * 1024);

    let digester = LogDigester::new(projects.path().to_path_buf());
    let d = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(10),
    );
    assert_eq!(texts(&d), ["Recent."]);
    assert_eq!(d.last_activity_timestamp, at(3));
}

/// A transcript: prompt, assistant text at `text_at` (if any), then `tools` tool calls.
fn stuck_fixture(text_at: Option<i64>, tools: i64) -> (TempDir, LogDigester) {
    let projects = TempDir::new().expect("tempdir");
    let mut lines = vec![prompt(0, SESSION)];
    if let Some(sec) = text_at {
        lines.push(assistant_text(sec, "Running the tests."));
    }
    let start = text_at.unwrap_or(0) + 1;
    for i in 0..tools {
        lines.push(tool_use(start + i));
        lines.push(tool_result(start + i));
    }
    // A user's text does not reset the count.
    lines.push(user_text(start + tools, "Any news?"));
    transcript(projects.path(), "home-user-proj", "t.jsonl", &lines);
    let digester = LogDigester::new(projects.path().to_path_buf());
    (projects, digester)
}

#[test]
fn stuck_after_more_than_five_tool_calls_and_30_s_of_silence() {
    let (_dir, digester) = stuck_fixture(Some(10), 6);
    let d = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(50),
    );
    let stuck = d.stuck.clone().expect("stuck");
    assert_eq!(stuck.silent_duration_ms, 40_000);
    assert_eq!(stuck.tool_calls_since_last_text, 6);
    assert!(!stuck.warning.is_empty());
    let json = serde_json::to_value(&d).expect("serialize");
    assert_eq!(json["stuck"]["silentDurationMs"], 40_000);
    assert_eq!(json["stuck"]["toolCallsSinceLastText"], 6);
    assert!(json["stuck"]["warning"].is_string());
}

#[test]
fn silence_of_exactly_30_s_counts() {
    let (_dir, digester) = stuck_fixture(Some(10), 6);
    let d = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(40),
    );
    assert_eq!(d.stuck.map(|s| s.silent_duration_ms), Some(30_000));
}

#[test]
fn not_stuck_with_five_tool_calls() {
    let (_dir, digester) = stuck_fixture(Some(10), 5);
    let d = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(500),
    );
    assert_eq!(d.stuck, None);
}

#[test]
fn not_stuck_when_the_last_text_is_recent() {
    let (_dir, digester) = stuck_fixture(Some(10), 8);
    let d = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(39),
    );
    assert_eq!(d.stuck, None);
}

#[test]
fn stuck_when_the_tail_has_no_assistant_text() {
    let (_dir, digester) = stuck_fixture(None, 6);
    let d = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(20),
    );
    let stuck = d.stuck.expect("stuck");
    assert_eq!(stuck.tool_calls_since_last_text, 6);
    // Measured from the first line of the tail.
    assert_eq!(stuck.silent_duration_ms, 20_000);
}

#[test]
fn state_follows_needs_input_then_status() {
    let digester = LogDigester::new(PathBuf::from("/nonexistent"));
    let state = |s: &Session| {
        digester
            .digest(s, WORKING_DIR, DigestOptions::default(), None, 0)
            .state
    };
    assert_eq!(state(&session("working")), DigestState::Active);
    assert_eq!(state(&session("spawning")), DigestState::Active);
    for status in ["idle", "completed", "failed", "stopped"] {
        assert_eq!(state(&session(status)), DigestState::Idle, "{status}");
    }
    let mut waiting = session("working");
    waiting.needs_input =
        serde_json::from_value(json!({"active": true, "message": "?"})).expect("needsInput");
    assert_eq!(state(&waiting), DigestState::NeedsInput);
    waiting.needs_input = serde_json::from_value(json!({"active": false})).expect("needsInput");
    assert_eq!(state(&waiting), DigestState::Active);
    assert_eq!(
        serde_json::to_value(DigestState::NeedsInput).expect("json"),
        "needs_input"
    );
}

#[test]
fn fallback_shape() {
    let d = LogDigester::fallback("sess_x", 1234);
    assert_eq!(
        serde_json::to_value(&d).expect("serialize"),
        json!({
            "sessionId": "sess_x",
            "taskIds": [],
            "state": "idle",
            "entries": [],
            "stuck": null,
            "lastActivityTimestamp": 1234
        })
    );
}

fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_modified(t)
        .expect("set mtime");
}

#[test]
fn transcript_path_is_cached_for_60_s() {
    let projects = TempDir::new().expect("tempdir");
    let old = transcript(
        projects.path(),
        "home-user-proj",
        "old.jsonl",
        &[prompt(0, SESSION), assistant_text(1, "Old file.")],
    );
    let now = SystemTime::now();
    set_mtime(&old, now - Duration::from_secs(600));
    let digester = LogDigester::new(projects.path().to_path_buf());
    let last =
        |d: &maestro_http_api::log_digest::TextOnlyDigest| d.entries.last().map(|e| e.text.clone());
    let s = session("working");

    let d = digester.digest(&s, WORKING_DIR, DigestOptions::default(), None, at(10));
    assert_eq!(last(&d).as_deref(), Some("Old file."));

    // A newer transcript for the same session appears (e.g. the agent was resumed).
    let new = transcript(
        projects.path(),
        "home-user-proj",
        "new.jsonl",
        &[prompt(20, SESSION), assistant_text(21, "New file.")],
    );
    set_mtime(&new, now);

    let d = digester.digest(&s, WORKING_DIR, DigestOptions::default(), None, at(69));
    assert_eq!(
        last(&d).as_deref(),
        Some("Old file."),
        "cached path is reused within 60 s"
    );

    let d = digester.digest(&s, WORKING_DIR, DigestOptions::default(), None, at(70));
    assert_eq!(
        last(&d).as_deref(),
        Some("New file."),
        "directory rescanned after 60 s"
    );

    // A cached file that disappeared is not served.
    fs::remove_file(&new).expect("remove");
    let d = digester.digest(&s, WORKING_DIR, DigestOptions::default(), None, at(71));
    assert_eq!(last(&d).as_deref(), Some("Old file."));
}

#[test]
fn numeric_timestamps_are_accepted() {
    let projects = TempDir::new().expect("tempdir");
    let line: Value = json!({
        "type": "assistant", "timestamp": at(5),
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Epoch ms."}]}
    });
    transcript(
        projects.path(),
        "home-user-proj",
        "t.jsonl",
        &[prompt(0, SESSION), line.to_string()],
    );
    let digester = LogDigester::new(projects.path().to_path_buf());
    let d = digester.digest(
        &session("working"),
        WORKING_DIR,
        DigestOptions::default(),
        None,
        at(6),
    );
    assert_eq!(d.entries.last().map(|e| e.timestamp), Some(at(5)));
}
