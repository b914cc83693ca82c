//! Journal patches of session files: a session change is journaled as what it changed, not as
//! the whole session (issue 12 item 1: an agent's session reaches megabytes, and journaling it
//! whole on every timeline append made each append cost the session's size in journal bytes,
//! rendering and checkpoints).
//!
//! # Patch format (the `data` of a kind-3 journal record, JSON)
//! ```text
//! { "head": { …every session field but timeline, events and docs, as after the change… },
//!   "timeline": { "at": N, "items": [ …entries appended at position N… ] },
//!   "events":   { "at": N, "items": [ … ] },
//!   "docs":     { "at": N, "items": [ … ] } }
//! ```
//! Sessions only ever grow those three arrays (a change that rewrites one is a full record),
//! so a patch is the new head plus the appended entries.
//!
//! # Replay
//! A patch is applied to the file's previous state: the last full record of the file in the
//! journal, or, when the journal holds only patches, the file on disk. The file may already
//! hold some of the journaled patches (it is written right after each journal sync), so
//! appends are positional: entries the file already has (`len > at`) are skipped, and a file
//! shorter than `at` means a patch is missing (an error: the journal is kept and the start
//! refused, as for any record that cannot be replayed). The head is replaced wholesale, so
//! replaying an older patch on a newer file is undone by the newer patches that follow it.

use std::io;

use serde::{Deserialize, Serialize};

use maestro_domain::entities::{DocEntry, Session, SessionEvent, TimelineEvent};

use crate::op::to_json;

/// Entries appended to one array, from position `at`.
#[derive(Serialize, Deserialize)]
struct Appended<T> {
    at: usize,
    items: Vec<T>,
}

/// A session patch, as written.
#[derive(Serialize)]
struct PatchOut<'a> {
    head: Session,
    timeline: Appended<&'a TimelineEvent>,
    events: Appended<&'a SessionEvent>,
    docs: Appended<&'a DocEntry>,
}

/// A session patch, as read back.
#[derive(Deserialize)]
struct PatchIn {
    head: Session,
    timeline: Appended<TimelineEvent>,
    events: Appended<SessionEvent>,
    docs: Appended<DocEntry>,
}

/// Lengths of the arrays of a session before a change (where its appends start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lengths {
    timeline: usize,
    events: usize,
    docs: usize,
}

impl Lengths {
    /// The lengths of `s`'s arrays.
    pub(crate) fn of(s: &Session) -> Self {
        Self {
            timeline: s.timeline.len(),
            events: s.events.len(),
            docs: s.docs.len(),
        }
    }

    /// True if `new` only appended to the arrays of a session of these lengths (a patch can
    /// describe the change).
    pub(crate) fn appended_by(&self, new: &Session) -> bool {
        new.timeline.len() >= self.timeline
            && new.events.len() >= self.events
            && new.docs.len() >= self.docs
    }
}

/// Every field of `s` but its timeline, events and docs (empty in the copy).
fn head(s: &Session) -> Session {
    Session {
        id: s.id.clone(),
        project_id: s.project_id.clone(),
        task_ids: s.task_ids.clone(),
        name: s.name.clone(),
        agent_id: s.agent_id.clone(),
        env: s.env.clone(),
        status: s.status.clone(),
        started_at: s.started_at,
        last_activity: s.last_activity,
        completed_at: s.completed_at,
        hostname: s.hostname.clone(),
        platform: s.platform.clone(),
        events: Vec::new(),
        timeline: Vec::new(),
        docs: Vec::new(),
        metadata: s.metadata.clone(),
        needs_input: s.needs_input.clone(),
        team_member_id: s.team_member_id.clone(),
        team_member_snapshot: s.team_member_snapshot.clone(),
        team_member_ids: s.team_member_ids.clone(),
        team_member_snapshots: s.team_member_snapshots.clone(),
        parent_session_id: s.parent_session_id.clone(),
        extra: s.extra.clone(),
        // Odd values inside the arrays stay with the arrays (see `apply`).
        odd: {
            let mut odd = s.odd.clone();
            odd.adopt(&mut Default::default(), ARRAYS);
            odd
        },
    }
}

/// The fields a patch appends to instead of replacing.
const ARRAYS: &[&str] = &["timeline", "events", "docs"];

/// The patch turning a session whose arrays had `before` lengths into `new` (which only
/// appended to them, see [`Lengths::appended_by`]): compact JSON, the size of what changed.
///
/// # Errors
/// The `serde_json` error (not expected: entities always serialize).
pub(crate) fn session_patch(before: Lengths, new: &Session) -> serde_json::Result<Vec<u8>> {
    let tail = |len: usize, at: usize| at.min(len);
    serde_json::to_vec(&PatchOut {
        head: head(new),
        timeline: Appended {
            at: before.timeline,
            items: new.timeline[tail(new.timeline.len(), before.timeline)..]
                .iter()
                .collect(),
        },
        events: Appended {
            at: before.events,
            items: new.events[tail(new.events.len(), before.events)..]
                .iter()
                .collect(),
        },
        docs: Appended {
            at: before.docs,
            items: new.docs[tail(new.docs.len(), before.docs)..]
                .iter()
                .collect(),
        },
    })
}

/// Appends `add` to `arr` from position `at`, skipping what `arr` already holds.
fn append<T>(arr: &mut Vec<T>, add: Appended<T>, what: &str) -> io::Result<()> {
    let len = arr.len();
    if len < add.at {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "journal patch appends {what} at position {} but the session has {len}: an \
                 earlier change is missing",
                add.at
            ),
        ));
    }
    arr.extend(add.items.into_iter().skip(len - add.at));
    Ok(())
}

/// Applies `patches` in order to the session file content `base`; returns the new content
/// (pretty JSON, as the store writes it).
///
/// # Errors
/// `InvalidData` when `base` or a patch is not a session / session patch, or a patch appends
/// beyond the end of an array (a patch before it is missing).
pub(crate) fn apply(base: &[u8], patches: &[&[u8]]) -> io::Result<Vec<u8>> {
    let invalid = |what: &str, e: serde_json::Error| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
    };
    let mut session: Session =
        serde_json::from_slice(base).map_err(|e| invalid("session file to patch", e))?;
    for patch in patches {
        let p: PatchIn = serde_json::from_slice(patch).map_err(|e| invalid("journal patch", e))?;
        let mut next = p.head;
        // Stored values of an unexpected type inside the arrays stay where they are.
        next.odd.adopt(&mut session.odd, ARRAYS);
        next.timeline = std::mem::take(&mut session.timeline);
        next.events = std::mem::take(&mut session.events);
        next.docs = std::mem::take(&mut session.docs);
        append(&mut next.timeline, p.timeline, "timeline entries")?;
        append(&mut next.events, p.events, "events")?;
        append(&mut next.docs, p.docs, "docs")?;
        session = next;
    }
    to_json(&session).map_err(|e| invalid("patched session", e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use maestro_domain::entities::{SessionPatch, SessionStatus, TimelineEventType};
    use maestro_domain::testing::fixtures::{T0, session};

    use super::*;

    fn entry(i: usize) -> TimelineEvent {
        TimelineEvent {
            id: format!("evt_{i}"),
            kind: TimelineEventType::Progress.into(),
            timestamp: T0 + i as i64,
            message: Some(format!("step {i}")),
            task_id: None,
            metadata: None,
        }
    }

    /// The session after `n` appends, and the patches of each.
    fn history(n: usize) -> (Vec<Session>, Vec<Vec<u8>>) {
        let mut states = vec![session("sess_1", "p1", T0)];
        let mut patches = Vec::new();
        for i in 0..n {
            let old = states.last().unwrap().clone();
            let mut new = old.clone();
            new.push_timeline(entry(i), T0 + i as i64);
            if i == 2 {
                new.apply(
                    &SessionPatch {
                        status: Some(SessionStatus::Working),
                        ..SessionPatch::default()
                    },
                    T0 + 100,
                );
            }
            patches.push(session_patch(Lengths::of(&old), &new).unwrap());
            states.push(new);
        }
        (states, patches)
    }

    #[test]
    fn patches_replay_from_any_file_state_that_holds_a_prefix_of_them() {
        let (states, patches) = history(5);
        let want = to_json(states.last().unwrap()).unwrap();
        let patches: Vec<&[u8]> = patches.iter().map(Vec::as_slice).collect();
        // The file may hold any state from before the first patch to after the last one.
        for held in &states {
            let base = to_json(held).unwrap();
            assert_eq!(apply(&base, &patches).unwrap(), want);
        }
        // A patch is the size of what it adds, not of the session.
        assert!(patches[4].len() < 1_000, "{}", patches[4].len());
    }

    #[test]
    fn a_missing_patch_is_an_error_not_a_silent_gap() {
        let (states, patches) = history(4);
        let base = to_json(&states[0]).unwrap();
        let err = apply(&base, &[&patches[2], &patches[3]]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(apply(b"{not json", &[&patches[0]]).is_err());
    }
}
