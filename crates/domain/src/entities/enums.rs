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

        impl WireEnum for $name {
            fn parse(s: &str) -> Option<Self> {
                $name::parse(s)
            }

            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }

            fn expected() -> String {
                $name::expected()
            }
        }
    };
}

/// A closed set of wire strings (every enum of this module).
pub trait WireEnum: Copy + Eq + std::fmt::Debug + 'static {
    /// Parses the wire text; `None` for an unknown value.
    fn parse(s: &str) -> Option<Self>;
    /// The wire text.
    fn as_str(self) -> &'static str;
    /// `a | b | c`, for error messages.
    fn expected() -> String;
}

/// A **stored** value of a closed set: one of `E`, or another string.
///
/// The reference validated no enum (ref §0: "any string is stored"), and the `maestro` CLI
/// passes `--status` / `--priority` through unchecked, so a data directory it wrote may hold
/// e.g. a task `status: "done"`. Entities read such values into [`Lenient::Other`]: the
/// entity loads, is served and round-trips verbatim, and domain rules treat the value as none
/// of the known ones (an unknown session status is not terminal, an unknown team-member mode
/// is `invalid_mode` at spawn as in ref §3.3.6). New input is still validated against `E` at
/// the edge (spec §2), so `Other` only ever comes from stored data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lenient<E> {
    /// A value of the closed set.
    Known(E),
    /// Any other string found in stored data.
    Other(String),
}

impl<E: WireEnum> Lenient<E> {
    /// The known value, if it is one.
    pub fn known(&self) -> Option<E> {
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

    /// Reads a stored string: `Known` when it is one of `E`.
    pub fn from_stored(s: &str) -> Self {
        E::parse(s).map_or_else(|| Self::Other(s.to_owned()), Self::Known)
    }
}

impl<E> From<E> for Lenient<E> {
    fn from(k: E) -> Self {
        Self::Known(k)
    }
}

impl<E: PartialEq> PartialEq<E> for Lenient<E> {
    fn eq(&self, other: &E) -> bool {
        matches!(self, Self::Known(k) if k == other)
    }
}

impl<E: WireEnum> std::fmt::Display for Lenient<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<E: WireEnum> Serialize for Lenient<E> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, E: WireEnum> Deserialize<'de> for Lenient<E> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than `String::deserialize`: a known value (nearly every one) is
        // matched on the borrowed text without allocating, which start-up does per entity.
        struct Visitor<E>(std::marker::PhantomData<E>);
        impl<E: WireEnum> serde::de::Visitor<'_> for Visitor<E> {
            type Value = Lenient<E>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<Err: serde::de::Error>(self, v: &str) -> Result<Self::Value, Err> {
                Ok(Lenient::from_stored(v))
            }

            fn visit_string<Err: serde::de::Error>(self, v: String) -> Result<Self::Value, Err> {
                Ok(E::parse(&v).map_or(Lenient::Other(v), Lenient::Known))
            }
        }
        d.deserialize_str(Visitor(std::marker::PhantomData))
    }
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

/// A stored timeline type: one of [`TimelineEventType`], or another string (ref §1.5: "not
/// validated on input"); see [`Lenient`].
pub type TimelineKind = Lenient<TimelineEventType>;

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
    /// Agent CLI a team member runs (ref §1.9; `hermes` since the 653bc6a CLI, issue 13).
    AgentTool {
        /// Claude Code.
        ClaudeCode => "claude-code",
        /// Codex.
        Codex => "codex",
        /// Gemini.
        Gemini => "gemini",
        /// Hermes (known to the 653bc6a CLI only).
        Hermes => "hermes",
    }
);

string_enum!(
    /// Agent mode (ref §1.9). The 653bc6a CLI and server speak four modes — a role (worker or
    /// coordinator) and whether a coordinator session spawned it; the 7950ff3 vocabulary
    /// `execute | coordinate` is still accepted and stored as sent (issue 13 item 1,
    /// NEWER-CLI-REQUESTS §2.5, §4.2).
    AgentMode {
        /// Works on tasks itself, spawned by no coordinator.
        Worker => "worker",
        /// Coordinates other sessions, spawned by no coordinator.
        Coordinator => "coordinator",
        /// A worker spawned by a coordinator session.
        CoordinatedWorker => "coordinated-worker",
        /// A coordinator spawned by a coordinator session.
        CoordinatedCoordinator => "coordinated-coordinator",
        /// Legacy (7950ff3) worker mode.
        Execute => "execute",
        /// Legacy (7950ff3) coordinator mode.
        Coordinate => "coordinate",
    }
);

impl AgentMode {
    /// True for the coordinator role: `coordinator`, `coordinated-coordinator` and the
    /// legacy `coordinate`.
    pub fn is_coordinator(self) -> bool {
        matches!(
            self,
            Self::Coordinator | Self::CoordinatedCoordinator | Self::Coordinate
        )
    }

    /// True for the 7950ff3 vocabulary (`execute`, `coordinate`).
    pub fn is_legacy(self) -> bool {
        matches!(self, Self::Execute | Self::Coordinate)
    }

    /// The same role in the 7950ff3 vocabulary, the only one a 7950ff3 `maestro` CLI
    /// accepts: `execute` for workers, `coordinate` for coordinators.
    pub fn legacy(self) -> Self {
        if self.is_coordinator() {
            Self::Coordinate
        } else {
            Self::Execute
        }
    }

    /// The same role in the four-mode vocabulary, `coordinated-*` exactly when the session
    /// has a coordinator (a parent session): the 653bc6a server's `normalizeMode`
    /// (NEWER-CLI-REQUESTS §4.2). A `coordinated-*` mode without a coordinator becomes the
    /// plain one.
    pub fn four_mode(self, has_coordinator: bool) -> Self {
        match (self.is_coordinator(), has_coordinator) {
            (true, true) => Self::CoordinatedCoordinator,
            (true, false) => Self::Coordinator,
            (false, true) => Self::CoordinatedWorker,
            (false, false) => Self::Worker,
        }
    }

    /// The mode a spawned session records (`metadata.mode`, `MAESTRO_MODE`): a legacy mode
    /// stays as sent, so 7950ff3 clients see their own vocabulary; a four-mode one is
    /// normalized with [`Self::four_mode`] as the 653bc6a server does.
    pub fn for_spawn(self, has_coordinator: bool) -> Self {
        if self.is_legacy() {
            self
        } else {
            self.four_mode(has_coordinator)
        }
    }
}

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

impl PermissionMode {
    /// The launch-config access mode of this permission mode (the 653bc6a CLI's mapping:
    /// bypassPermissions ↔ fullAccess, acceptEdits ↔ acceptEdits, readOnly ↔ plan,
    /// interactive ↔ safe).
    pub fn access_mode(self) -> AccessMode {
        match self {
            Self::BypassPermissions => AccessMode::FullAccess,
            Self::AcceptEdits => AccessMode::AcceptEdits,
            Self::ReadOnly => AccessMode::Plan,
            Self::Interactive => AccessMode::Safe,
        }
    }
}

string_enum!(
    /// Provider of a spawn `launchConfig` (NEWER-CLI-REQUESTS §4.1; issue 13 item 2).
    LaunchProvider {
        /// Anthropic models, run with Claude Code.
        Claude => "claude",
        /// OpenAI models, run with Codex.
        Openai => "openai",
        /// Hermes.
        Hermes => "hermes",
        /// Google models, run with the Gemini CLI.
        Gemini => "gemini",
    }
);

impl LaunchProvider {
    /// The agent tool that runs this provider's models.
    pub fn agent_tool(self) -> AgentTool {
        match self {
            Self::Claude => AgentTool::ClaudeCode,
            Self::Openai => AgentTool::Codex,
            Self::Hermes => AgentTool::Hermes,
            Self::Gemini => AgentTool::Gemini,
        }
    }
}

string_enum!(
    /// Reasoning effort of a `launchConfig`.
    ReasoningEffort {
        /// Minimal.
        Minimal => "minimal",
        /// Low.
        Low => "low",
        /// Medium.
        Medium => "medium",
        /// High.
        High => "high",
        /// Extra high.
        Xhigh => "xhigh",
        /// Maximum.
        Max => "max",
    }
);

string_enum!(
    /// Speed tier of a `launchConfig`.
    LaunchSpeed {
        /// Standard.
        Standard => "standard",
        /// Fast.
        Fast => "fast",
    }
);

string_enum!(
    /// Access mode of a `launchConfig`: the provider-neutral permission mode.
    AccessMode {
        /// Ask before acting (`interactive`).
        Safe => "safe",
        /// Accept edits.
        AcceptEdits => "acceptEdits",
        /// Plan only (`readOnly`).
        Plan => "plan",
        /// No prompts (`bypassPermissions`).
        FullAccess => "fullAccess",
    }
);

impl AccessMode {
    /// The permission mode of this access mode (inverse of [`PermissionMode::access_mode`]).
    pub fn permission_mode(self) -> PermissionMode {
        match self {
            Self::FullAccess => PermissionMode::BypassPermissions,
            Self::AcceptEdits => PermissionMode::AcceptEdits,
            Self::Plan => PermissionMode::ReadOnly,
            Self::Safe => PermissionMode::Interactive,
        }
    }
}

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

string_enum!(
    /// Kind of a session doc (newer reference, 653bc6a); no kind means markdown.
    DocKind {
        /// Markdown text.
        Markdown => "markdown",
        /// An Excalidraw scene (JSON text).
        Diagram => "diagram",
    }
);

string_enum!(
    /// Where a custom team member is offered (newer reference, 653bc6a); no scope means
    /// its project.
    MemberScope {
        /// Its own project only.
        Project => "project",
        /// Every project (stored in `team-members/__global__/`).
        Global => "global",
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

    #[test]
    fn lenient_keeps_unknown_stored_values_verbatim() {
        let done: Lenient<TaskStatus> = serde_json::from_str("\"done\"").unwrap();
        assert_eq!(done, Lenient::Other("done".to_owned()));
        assert_eq!(done.known(), None);
        assert_ne!(done, TaskStatus::Completed);
        assert_eq!(serde_json::to_string(&done).unwrap(), "\"done\"");
        // Escapes survive the round trip.
        let odd: Lenient<TaskStatus> = serde_json::from_str(r#""in\u0020\"review\"""#).unwrap();
        assert_eq!(odd.as_str(), "in \"review\"");
        assert_eq!(serde_json::to_string(&odd).unwrap(), r#""in \"review\"""#);

        let known: Lenient<TaskStatus> = serde_json::from_str("\"in_review\"").unwrap();
        assert_eq!(known, TaskStatus::InReview);
        assert_eq!(known.known(), Some(TaskStatus::InReview));
        assert_eq!(Lenient::from(TaskStatus::InReview), known);
        // A non-string is still an error.
        assert!(serde_json::from_str::<Lenient<TaskStatus>>("3").is_err());
    }
}
