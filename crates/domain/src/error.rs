//! Domain errors.
//!
//! One enum, [`DomainError`], carries every failure a service or port can report. Each variant
//! maps to one code of the error contract (spec §2); the mapping to HTTP status codes and
//! Socket.IO acks lives in the adapters (`maestro-http-api`, `maestro-socketio-gateway`).

use serde::Serialize;

/// One invalid input field: `{path, message}` inside `details` of a `VALIDATION_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path of the offending field (`status`, `body.priority`, `taskIds[2]`).
    pub path: String,
    /// Human readable reason.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The category of a spawn failure (ref §3.3.6): decides the status class on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnErrorKind {
    /// 400: bad request body.
    BadRequest,
    /// 404: a referenced entity is missing.
    NotFound,
    /// 500: manifest generation or another step failed.
    Internal,
}

/// Errors of the domain layer and of every port.
///
/// Wire codes (spec §2): `Validation` → `VALIDATION_ERROR` 400, `NotFound` → `NOT_FOUND` 404,
/// `Forbidden` → `FORBIDDEN` 403, `Conflict` → `CONFLICT` 409, `BusinessRule` →
/// `BUSINESS_RULE_ERROR` 422, `StoreUnavailable` → `STORE_UNAVAILABLE` 503,
/// `BusUnavailable` → `BUS_UNAVAILABLE` 503, `Spawn` → its own upper-case code,
/// `Internal` → `INTERNAL_ERROR` 500 (the cause is logged, never sent to clients).
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input failed validation.
    #[error("{message}")]
    Validation {
        /// Summary message, e.g. `Task title is required`.
        message: String,
        /// Per-field details, empty when the message says it all.
        details: Vec<FieldError>,
    },
    /// A referenced entity does not exist.
    #[error("{message}")]
    NotFound {
        /// Message, e.g. `Task with id 'task_1' not found`.
        message: String,
    },
    /// The action is not allowed on this entity (e.g. deleting a default team member).
    #[error("{0}")]
    Forbidden(String),
    /// A concurrent modification or a lock that could not be taken in time.
    #[error("{0}")]
    Conflict(String),
    /// The request is well formed but breaks a business rule (e.g. project has tasks).
    #[error("{0}")]
    BusinessRule(String),
    /// The storage backend cannot serve the request right now.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// The event bus cannot serve the request right now.
    #[error("event bus unavailable: {0}")]
    BusUnavailable(String),
    /// A spawn failure with its own code (ref §3.3.6, upper-cased per spec §2).
    #[error("{message}")]
    Spawn {
        /// Status class.
        kind: SpawnErrorKind,
        /// Upper-case code, e.g. `TASK_NOT_FOUND`.
        code: &'static str,
        /// Message for the client.
        message: String,
        /// Optional details object, e.g. `{"taskId": "…"}`.
        details: Option<serde_json::Value>,
    },
    /// Anything unexpected. The source chain is kept for the log.
    #[error("internal error: {message}")]
    Internal {
        /// What failed, for the log.
        message: String,
        /// The cause.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// Result alias used across the domain.
pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    /// `VALIDATION_ERROR` with a message and no details.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// `VALIDATION_ERROR` for one field.
    pub fn invalid_field(path: impl Into<String>, message: impl Into<String>) -> Self {
        let path = path.into();
        let message = message.into();
        Self::Validation {
            message: format!("Invalid value for '{path}': {message}"),
            details: vec![FieldError::new(path, message)],
        }
    }

    /// `NOT_FOUND` with the reference message `"<Resource> with id '<id>' not found"`; a long
    /// id is shortened ([`crate::ids::shown`]).
    pub fn not_found(resource: &str, id: &str) -> Self {
        Self::NotFound {
            message: format!("{resource} with id '{}' not found", crate::ids::shown(id)),
        }
    }

    /// `NOT_FOUND` with a free message.
    pub fn not_found_msg(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
        }
    }

    /// `INTERNAL_ERROR` wrapping a cause.
    pub fn internal<E>(message: impl Into<String>, source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::Internal {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// `INTERNAL_ERROR` without a cause.
    pub fn internal_msg(message: impl Into<String>) -> Self {
        Self::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// A spawn error with its code.
    pub fn spawn(kind: SpawnErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self::Spawn {
            kind,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// The wire code of this error (spec §2).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "VALIDATION_ERROR",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Conflict(_) => "CONFLICT",
            Self::BusinessRule(_) => "BUSINESS_RULE_ERROR",
            Self::StoreUnavailable(_) => "STORE_UNAVAILABLE",
            Self::BusUnavailable(_) => "BUS_UNAVAILABLE",
            Self::Spawn { code, .. } => code,
            Self::Internal { .. } => "INTERNAL_ERROR",
        }
    }

    /// True if this is a `NotFound`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
