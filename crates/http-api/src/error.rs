//! The error contract (spec §2): every failure leaves as
//! `{"error": true, "statusCode": N, "code": "…", "message": "…", "details": …}`.
//!
//! This is the one place where domain errors become HTTP status codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maestro_domain::error::SpawnErrorKind;
use maestro_domain::{DomainError, FieldError};
use serde_json::{Value, json};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `SCREAMING_SNAKE` code.
    pub code: &'static str,
    /// Message (never an internal cause).
    pub message: String,
    /// Optional details (`[{path, message}]` for validation errors).
    pub details: Option<Box<Value>>,
    /// `Retry-After` seconds for 429 / 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// 400 `VALIDATION_ERROR`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 400 `VALIDATION_ERROR` with `[{path, message}]` details.
    pub fn invalid(message: impl Into<String>, details: Vec<FieldError>) -> Self {
        let mut e = Self::validation(message);
        e.details = Some(Box::new(json!(details)));
        e
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 413 `PAYLOAD_TOO_LARGE`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("Request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 500 `INTERNAL_ERROR` with a generic message (the cause is logged by the caller).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Internal server error",
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        let code = err.code();
        match err {
            DomainError::Validation { message, details } => {
                let mut e = Self::validation(message);
                if !details.is_empty() {
                    e.details = Some(Box::new(json!(details)));
                }
                e
            }
            DomainError::NotFound { message } => Self::not_found(message),
            DomainError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, code, m),
            DomainError::Conflict(m) => Self::new(StatusCode::CONFLICT, code, m),
            DomainError::BusinessRule(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, m),
            DomainError::StoreUnavailable(_) | DomainError::BusUnavailable(_) => {
                tracing::error!(error = %err, "backend unavailable");
                let what = if code == "STORE_UNAVAILABLE" {
                    "store"
                } else {
                    "event bus"
                };
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    format!("The {what} is unavailable; try again shortly"),
                );
                e.retry_after = Some(1);
                e
            }
            DomainError::Spawn {
                kind,
                code,
                message,
                details,
            } => {
                let status = match kind {
                    SpawnErrorKind::BadRequest => StatusCode::BAD_REQUEST,
                    SpawnErrorKind::NotFound => StatusCode::NOT_FOUND,
                    SpawnErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                };
                let mut e = Self::new(status, code, message);
                e.details = details.map(Box::new);
                e
            }
            DomainError::Internal { .. } => {
                tracing::error!(error = ?err, "internal error");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "error": true,
            "statusCode": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
        });
        if let Some(d) = self.details {
            body["details"] = *d;
        }
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
