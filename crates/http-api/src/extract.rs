//! Extractors that turn bad input into the error contract (spec §2) instead of axum's plain
//! text rejections: JSON bodies, path ids and query strings.

use std::collections::HashMap;

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use maestro_domain::FieldError;
use maestro_domain::ids::{invalid_id_message, is_valid_id, shown};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ApiError;

/// A JSON object body deserialized into `T`.
///
/// - empty body (any content type) → `{}` (ref §0: a missing body is not an error);
/// - a non-JSON content type with a non-empty body → 415 `UNSUPPORTED_MEDIA_TYPE`;
/// - malformed JSON or a non-object → 400 `VALIDATION_ERROR`;
/// - a field of the wrong type or an unknown enum value → 400 with `details: [{path, message}]`;
/// - larger than the body limit → 413 `PAYLOAD_TOO_LARGE`;
/// - not complete within the request's [`BodyTimeout`] → 408 `REQUEST_TIMEOUT` (the server
///   then closes the connection: hyper never reuses one whose request body was left unread).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Request extension: how long a request body may take to arrive completely, counted from
/// when [`JsonBody`] starts reading it (right after the headers). The server's connection
/// layer sets it on every request (`http.body_timeout_ms`); without it a body is read with no
/// deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeout(pub std::time::Duration);

/// Parses raw body bytes into a JSON object (rules of [`JsonBody`]).
fn parse_object(content_type: Option<&str>, bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    if let Some(ct) = content_type {
        let ct = ct.to_ascii_lowercase();
        if !(ct.starts_with("application/json") || ct.contains("+json")) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Request body must be application/json",
            ));
        }
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid(
            "Malformed JSON body",
            vec![FieldError::new("", e.to_string())],
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::validation("Request body must be a JSON object"));
    }
    Ok(value)
}

/// `message` with every quoted client value (`` `…` `` or `"…"`, as serde quotes them)
/// shortened by [`shown`]: serde repeats an unknown enum value or a mistyped string in full.
pub fn clip_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(1024));
    let mut rest = message;
    while let Some(start) = rest.find(['`', '"']) {
        let quote = rest.as_bytes()[start];
        out.push_str(&rest[..=start]);
        let body = &rest[start + 1..];
        // The closing quote; inside "…" (a `{:?}` string) a backslash escapes the next char.
        let mut end = None;
        let mut escaped = false;
        for (i, b) in body.bytes().enumerate() {
            if escaped {
                escaped = false;
            } else if quote == b'"' && b == b'\\' {
                escaped = true;
            } else if b == quote {
                end = Some(i);
                break;
            }
        }
        let Some(end) = end else {
            out.push_str(&shown(body));
            return out;
        };
        out.push_str(&shown(&body[..end]));
        out.push(quote as char);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Deserializes `value` into `T`, reporting the failing field's path.
pub fn from_value<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = shown(&e.path().to_string()).into_owned();
        let path = if path == "." { String::new() } else { path };
        let message = clip_quoted(&e.into_inner().to_string());
        ApiError::invalid(
            format!(
                "Invalid {what}: {}{message}",
                if path.is_empty() {
                    String::new()
                } else {
                    format!("{path}: ")
                }
            ),
            vec![FieldError::new(path, message)],
        )
    })
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let timeout = req.extensions().get::<BodyTimeout>().copied();
        let read = Bytes::from_request(req, state);
        let read = match timeout {
            None => read.await,
            Some(BodyTimeout(limit)) => tokio::time::timeout(limit, read).await.map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "REQUEST_TIMEOUT",
                    format!(
                        "The request body did not arrive within {} ms",
                        limit.as_millis()
                    ),
                )
            })?,
        };
        let bytes = read.map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    "Request body is too large",
                )
            } else {
                ApiError::validation(format!("Could not read the request body: {e}"))
            }
        })?;
        let value = parse_object(content_type.as_deref(), &bytes)?;
        Ok(Self(from_value(value, "request body")?))
    }
}

/// A path id matching `^[A-Za-z0-9_-]{1,128}$` (spec §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id(pub String);

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if is_valid_id(&s) {
            Ok(Self(s))
        } else {
            Err(serde::de::Error::custom(invalid_id_message(&s)))
        }
    }
}

/// Path parameters; a bad id is a 400 `VALIDATION_ERROR` "Invalid URL parameters".
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| {
                ApiError::invalid(
                    "Invalid URL parameters",
                    vec![FieldError::new("params", clip_quoted(&e.body_text()))],
                )
            })
    }
}

/// The query string as a map, with typed accessors that fail with 400 and details.
#[derive(Debug, Default)]
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| {
                ApiError::validation(format!(
                    "Invalid query parameters: {}",
                    clip_quoted(&e.body_text())
                ))
            })
    }
}

impl QueryMap {
    /// A non-empty string parameter.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// An owned non-empty string parameter.
    pub fn string(&self, key: &str) -> Option<String> {
        self.str(key).map(str::to_owned)
    }

    /// A parameter parsed by `parse` (an enum's wire value); unknown values → 400 listing
    /// `expected`.
    pub fn parsed<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.str(key) {
            None => Ok(None),
            Some(v) => parse(v).map(Some).ok_or_else(|| {
                let msg = format!("must be one of {expected}");
                ApiError::invalid(
                    format!("Invalid query parameter '{key}': {msg}"),
                    vec![FieldError::new(key, msg)],
                )
            }),
        }
    }

    /// An integer parameter; non-integers → 400.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.parsed(key, |v| v.parse::<i64>().ok(), "an integer")
    }
}

/// A JSON response serialized into a buffer sized up front: `bytes_per_item × len`.
/// Large lists (2,000 tasks ≈ 870 KB) otherwise pay for a dozen reallocations and copies of
/// a doubling buffer.
pub struct JsonList<T>(pub Vec<T>, pub usize);

impl<T: serde::Serialize> axum::response::IntoResponse for JsonList<T> {
    fn into_response(self) -> axum::response::Response {
        let mut buf = Vec::with_capacity(self.0.len().saturating_mul(self.1).max(2));
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                )],
                buf,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "response serialization failed");
                ApiError::internal().into_response()
            }
        }
    }
}

/// A response body that is already JSON text (one entity, serialized by the store).
pub struct RawJson(pub std::sync::Arc<str>);

impl axum::response::IntoResponse for RawJson {
    fn into_response(self) -> axum::response::Response {
        (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            self.0.as_bytes().to_vec(),
        )
            .into_response()
    }
}

/// A response body that is an event payload's JSON text (an entity serialized once by the
/// service that changed it, see `maestro_domain::services::Saved`): written without a copy.
pub struct PayloadJson(pub maestro_domain::events::Payload);

impl axum::response::IntoResponse for PayloadJson {
    fn into_response(self) -> axum::response::Response {
        (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            Bytes::from_owner(self.0),
        )
            .into_response()
    }
}

/// A JSON array response assembled from elements that are already JSON text: the list is
/// joined with commas, no element is parsed or re-serialized.
pub struct RawJsonList(pub Vec<std::sync::Arc<str>>);

impl axum::response::IntoResponse for RawJsonList {
    fn into_response(self) -> axum::response::Response {
        let len = self.0.iter().map(|e| e.len() + 1).sum::<usize>() + 2;
        let mut buf = Vec::with_capacity(len);
        buf.push(b'[');
        for (i, element) in self.0.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(element.as_bytes());
        }
        buf.push(b']');
        (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            buf,
        )
            .into_response()
    }
}

/// `value` as an array of strings; `None` if it is absent, not an array, or holds anything
/// but strings (the lenient checks of ref §4, which report their own messages).
pub fn string_array(value: Option<&Value>) -> Option<Vec<String>> {
    value?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// A required non-empty string field; `message` is the reference's error text
/// (e.g. `message is required`).
pub fn required(value: Option<String>, message: &str) -> Result<String, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::validation(message))
}

/// `deserialize_with` for a field that may be absent (`None`, with `#[serde(default)]`),
/// `null` (`Some(None)`) or a value (`Some(Some(v))`): e.g. `teamId: null` clears a task's
/// team.
///
/// # Errors
/// The value's own deserialization error.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_quoted_shortens_only_long_quoted_values() {
        let long = "x".repeat(1000);
        let short_of = |s: &str| format!("{}…", &s[..64]);
        assert_eq!(
            clip_quoted(&format!("unknown variant `{long}`, expected `low`, `high`")),
            format!(
                "unknown variant `{}`, expected `low`, `high`",
                short_of(&long)
            )
        );
        // A `{:?}` string: an escaped quote does not end it.
        let escaped = format!("a\\\"{long}");
        assert_eq!(
            clip_quoted(&format!("invalid type: string \"{escaped}\", expected i64")),
            format!(
                "invalid type: string \"{}\", expected i64",
                short_of(&escaped)
            )
        );
        assert_eq!(clip_quoted("no quotes at all"), "no quotes at all");
        assert_eq!(clip_quoted("unterminated `abc"), "unterminated `abc");
    }
}
