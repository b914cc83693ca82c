//! Services (ref §3 with the decisions of spec §2). Each emits its events only after the
//! store write succeeded (spec §4).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::events::{EventBus, NewEvent, Payload};
use crate::ids::{Clock, IdGenerator};
use crate::ports::{
    MailRepository, ManifestGenerator, ModalStore, OrderingRepository, ProjectRepository,
    SessionRepository, TaskRepository, TeamMemberRepository,
};

mod mail;
mod ordering;
mod project;
mod session;
mod session_interaction;
mod session_mode;
mod snapshots;
mod spawn;
mod task;
mod team_member;

pub use mail::{MailService, SendMail, SessionMailInput};
pub use ordering::OrderingService;
pub use project::{CreateProject, ProjectService, WorkspaceContext};
pub use session::{CreateSession, SessionService};
pub use session_interaction::{ModalInput, PromptInput};
pub use session_mode::{SessionModeChange, SessionModeView, SessionRelation, SessionRole};
pub use spawn::{SpawnRequest, SpawnResponse, SpawnService};
pub use task::{CreateTask, TaskDoc, TaskService, UpdateTask};
pub use team_member::{CreateTeamMember, TeamMemberService, UpdateTeamMember};

/// Every port the services use; built once by the server from configuration.
#[derive(Clone)]
pub struct Ports {
    /// Projects.
    pub projects: Arc<dyn ProjectRepository>,
    /// Tasks.
    pub tasks: Arc<dyn TaskRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// Mail.
    pub mail: Arc<dyn MailRepository>,
    /// Team members.
    pub team_members: Arc<dyn TeamMemberRepository>,
    /// Orderings.
    pub orderings: Arc<dyn OrderingRepository>,
    /// Modal HTML.
    pub modals: Arc<dyn ModalStore>,
    /// Spawn manifests.
    pub manifests: Arc<dyn ManifestGenerator>,
    /// Event bus.
    pub bus: Arc<dyn EventBus>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// Settings the services need (a subset of the server configuration).
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    /// `hostname` written on new sessions.
    pub hostname: String,
    /// `platform` written on new sessions (`linux`, `darwin`, `win32`).
    pub platform: String,
    /// Advertised server URL (`MAESTRO_SERVER_URL` for agents).
    pub server_url: String,
    /// Data directory (`DATA_DIR` for agents).
    pub data_dir: String,
    /// Session directory (`SESSION_DIR` for agents).
    pub session_dir: String,
    /// Variables passed through to spawned agents (ref §3.3.6 step 12), as read at start-up.
    pub passthrough_env: BTreeMap<String, String>,
}

/// Shared state of the services.
pub(crate) struct Ctx {
    pub ports: Ports,
    pub config: AppConfig,
    /// `true` once the server drains ([`App::shutdown`]); long-polls select on it.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Coalesced announcements of concurrent appends to one session.
    pub snapshots: snapshots::Snapshots,
}

impl Ctx {
    pub fn now(&self) -> i64 {
        self.ports.clock.now_ms()
    }

    pub fn id(&self, prefix: &str) -> String {
        self.ports.ids.generate(prefix)
    }

    /// Emits; a bus failure is logged, never turned into a request failure, because the
    /// write it reports has already happened.
    pub async fn emit(&self, event: NewEvent) {
        let name = event.name;
        if let Err(err) = self.ports.bus.emit(event).await {
            tracing::warn!(event = name, error = %err, "event not published beyond this process");
        }
    }
}

/// An entity as stored by a change, with its compact JSON serialized **once**: the same text is
/// the payload of the event that announced the change and can be the HTTP response body
/// (issue 12: a session's JSON is megabytes for a long-running agent).
#[derive(Debug, Clone)]
pub struct Saved<T> {
    /// The entity, shared with the store where the store keeps it shared.
    pub value: Arc<T>,
    /// Its compact JSON (`serde_json::to_string(&value)`).
    pub json: Payload,
}

impl<T: serde::Serialize + Clone> Saved<T> {
    /// Serializes `value` once.
    pub fn new(value: Arc<T>) -> Self {
        let json = Payload::of(&*value);
        Self { value, json }
    }

    /// The entity, copied only if someone else (the store) still shares it.
    pub fn into_value(self) -> T {
        Arc::unwrap_or_clone(self.value)
    }
}

/// Serializes an entity for an event payload.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// The application: every service, sharing one set of ports. Cheap to clone.
#[derive(Clone)]
pub struct App {
    /// Projects.
    pub projects: ProjectService,
    /// Tasks.
    pub tasks: TaskService,
    /// Sessions.
    pub sessions: SessionService,
    /// Mail.
    pub mail: MailService,
    /// Team members.
    pub team_members: TeamMemberService,
    /// Orderings.
    pub orderings: OrderingService,
    /// Spawn.
    pub spawn: SpawnService,
    /// The bus, for real-time adapters (subscribe / replay).
    pub bus: Arc<dyn EventBus>,
}

impl App {
    /// Builds every service over `ports`.
    pub fn new(ports: Ports, config: AppConfig) -> Self {
        let bus = ports.bus.clone();
        let ctx = Arc::new(Ctx {
            ports,
            config,
            shutdown: tokio::sync::watch::Sender::new(false),
            snapshots: snapshots::Snapshots::default(),
        });
        Self {
            projects: ProjectService { ctx: ctx.clone() },
            tasks: TaskService { ctx: ctx.clone() },
            sessions: SessionService { ctx: ctx.clone() },
            mail: MailService { ctx: ctx.clone() },
            team_members: TeamMemberService { ctx: ctx.clone() },
            orderings: OrderingService { ctx: ctx.clone() },
            spawn: SpawnService { ctx },
            bus,
        }
    }

    /// Starts the shutdown of the services: every pending `waitForMail` long-poll
    /// ([`MailService::wait`]) answers `[]` at once, and later waits return what the inbox
    /// holds without waiting. The server calls it when its graceful drain begins, so that
    /// long-polls do not hold the drain until its grace period ends. Idempotent.
    pub fn shutdown(&self) {
        self.mail.ctx.shutdown.send_replace(true);
    }
}

/// Trims `s` as JavaScript's `trim()` does ([`crate::entities::js_trim`]); `None` if absent
/// or blank.
pub(crate) fn non_blank(s: Option<&str>) -> Option<String> {
    s.map(crate::entities::js_trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
