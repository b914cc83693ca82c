//! The closed value sets of ref §1 (validated on input, spec §2).

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire text of this value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire text; `None` for an unknown value.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }

            /// `a | b | c`, for error messages.
            pub fn expected() -> String {
                [$($text),+].join(" | ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Task status (ref §1.2).
    TaskStatus {
        /// Not started.
        Todo => "todo",
        /// Being worked on.
        InProgress => "in_progress",
        /// Awaiting review.
        InReview => "in_review",
        /// Done.
        Completed => "completed",
        /// Cancelled.
        Cancelled => "cancelled",
        /// Blocked.
        Blocked => "blocked",
        /// Archived.
        Archived => "archived",
    }
);

string_enum!(
    /// Task priority (ref §1.2).
    TaskPriority {
        /// Low.
        Low => "low",
        /// Medium (default).
        Medium => "medium",
        /// High.
        High => "high",
    }
);

string_enum!(
    /// Per-session status of a task (ref §1.2).
    TaskSessionStatus {
        /// The session works on the task.
        Working => "working",
        /// The session is blocked on the task.
        Blocked => "blocked",
        /// The session completed the task.
        Completed => "completed",
        /// The session failed the task.
        Failed => "failed",
        /// The session skipped the task.
        Skipped => "skipped",
    }
);

impl TaskSessionStatus {
    /// `completed | failed | skipped`: no longer changed by session termination (ref §3.3.2).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Skipped)
    }
}

string_enum!(
    /// Who issued a task update (ref §1.2).
    UpdateSource {
        /// A person.
        User => "user",
        /// An agent session.
        Session => "session",
    }
);

string_enum!(
    /// Session status (ref §1.3).
    SessionStatus {
        /// Spawn requested, agent not started yet.
        Spawning => "spawning",
        /// Idle.
        Idle => "idle",
        /// Working.
        Working => "working",
        /// Completed (terminal).
        Completed => "completed",
        /// Failed (terminal).
        Failed => "failed",
        /// Stopped (terminal).
        Stopped => "stopped",
    }
);

impl SessionStatus {
    /// `stopped | completed | failed`.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Stopped | Self::Completed | Self::Failed)
    }
}

string_enum!(
    /// Session timeline entry type (ref §1.5).
    TimelineEventType {
        /// Session started.
        SessionStarted => "session_started",
        /// Session stopped.
        SessionStopped => "session_stopped",
        /// Task started.
        TaskStarted => "task_started",
        /// Task completed.
        TaskCompleted => "task_completed",
        /// Task failed.
        TaskFailed => "task_failed",
        /// Task skipped.
        TaskSkipped => "task_skipped",
        /// Task blocked.
        TaskBlocked => "task_blocked",
        /// Agent needs input.
        NeedsInput => "needs_input",
        /// Progress report.
        Progress => "progress",
        /// Error.
        Error => "error",
        /// Milestone.
        Milestone => "milestone",
        /// A doc was added.
        DocAdded => "doc_added",
        /// A prompt was received.
        PromptReceived => "prompt_received",
        /// The user-owned task status changed (sent by the `maestro task update|complete|block`
        /// commands; not in ref §1.5 but accepted so the CLI's audit entries are kept).
        TaskStatusChanged => "task_status_changed",
    }
);

/// A stored timeline type: one of [`TimelineEventType`], or another string. The reference
/// stored any string (ref §1.5: "not validated on input"), so data written by it may hold
/// types we do not know; they load and round-trip verbatim. New input is still validated
/// against [`TimelineEventType`] at the edge (spec §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimelineKind {
    /// A type of the closed set.
    Known(TimelineEventType),
    /// Any other string found in stored data.
    Other(String),
}

impl TimelineKind {
    /// The known type, if it is one.
    pub fn known(&self) -> Option<TimelineEventType> {
        match self {
            Self::Known(k) => Some(*k),
            Self::Other(_) => None,
        }
    }

    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(k) => k.as_str(),
            Self::Other(s) => s,
        }
    }
}

impl From<TimelineEventType> for TimelineKind {
    fn from(k: TimelineEventType) -> Self {
        Self::Known(k)
    }
}

impl PartialEq<TimelineEventType> for TimelineKind {
    fn eq(&self, other: &TimelineEventType) -> bool {
        matches!(self, Self::Known(k) if k == other)
    }
}

impl Serialize for TimelineKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TimelineKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match TimelineEventType::parse(&s) {
            Some(k) => Self::Known(k),
            None => Self::Other(s),
        })
    }
}

string_enum!(
    /// Typed mail kind (spec §3, ref Appendix A).
    MailType {
        /// Work assignment.
        Assignment => "assignment",
        /// Status update.
        StatusUpdate => "status_update",
        /// Question.
        Query => "query",
        /// Answer.
        Response => "response",
        /// Directive.
        Directive => "directive",
        /// Notification (also what session-scoped mail stores).
        Notification => "notification",
    }
);

string_enum!(
    /// Mail priority; inbox order critical < high < normal/unset < low.
    MailPriority {
        /// Critical.
        Critical => "critical",
        /// High.
        High => "high",
        /// Normal.
        Normal => "normal",
        /// Low.
        Low => "low",
    }
);

impl MailPriority {
    /// Sort rank: critical 0, high 1, normal 2, low 3.
    pub fn rank(this: Option<Self>) -> u8 {
        match this {
            Some(Self::Critical) => 0,
            Some(Self::High) => 1,
            None | Some(Self::Normal) => 2,
            Some(Self::Low) => 3,
        }
    }
}

string_enum!(
    /// Broadcast scope of a mail without `toSessionId` (ref Appendix A).
    MailScope {
        /// Everyone in the project.
        All => "all",
        /// Active sessions whose parent is the sender.
        MyWorkers => "my-workers",
        /// Active siblings of the sender.
        Team => "team",
    }
);

string_enum!(
    /// Team member status (ref §1.9).
    TeamMemberStatus {
        /// Active.
        Active => "active",
        /// Archived.
        Archived => "archived",
    }
);

string_enum!(
    /// Agent CLI a team member runs (ref §1.9).
    AgentTool {
        /// Claude Code.
        ClaudeCode => "claude-code",
        /// Codex.
        Codex => "codex",
        /// Gemini.
        Gemini => "gemini",
    }
);

string_enum!(
    /// Agent mode (ref §1.9).
    AgentMode {
        /// Execute tasks directly.
        Execute => "execute",
        /// Coordinate other sessions.
        Coordinate => "coordinate",
    }
);

string_enum!(
    /// Agent permission mode (ref §1.9).
    PermissionMode {
        /// Accept edits.
        AcceptEdits => "acceptEdits",
        /// Ask interactively.
        Interactive => "interactive",
        /// Read only.
        ReadOnly => "readOnly",
        /// Bypass permissions.
        BypassPermissions => "bypassPermissions",
    }
);

string_enum!(
    /// Which UI an ordering belongs to (ref §1.11).
    OrderingEntityType {
        /// Task ordering.
        Task => "task",
        /// Session ordering.
        Session => "session",
    }
);

string_enum!(
    /// Where a spawn request comes from (ref §1.12).
    SpawnSource {
        /// The desktop / web UI.
        Ui => "ui",
        /// Another session.
        Session => "session",
    }
);

string_enum!(
    /// How a prompt is delivered to an agent terminal (ref §4.4).
    PromptMode {
        /// Type and press enter.
        Send => "send",
        /// Paste only.
        Paste => "paste",
    }
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for s in TaskStatus::ALL {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<TaskStatus>(&json).unwrap(), *s);
        }
        assert_eq!(AgentTool::parse("claude-code"), Some(AgentTool::ClaudeCode));
        assert_eq!(
            PermissionMode::parse("readOnly"),
            Some(PermissionMode::ReadOnly)
        );
        assert!(serde_json::from_str::<TaskStatus>("\"done\"").is_err());
    }
}
