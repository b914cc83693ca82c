//! The spawn `launchConfig` of the 653bc6a CLI and server (NEWER-CLI-REQUESTS §4.1, §4.2;
//! issue 13 item 2): which provider and model run a session, with optional reasoning effort,
//! speed and access mode.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AccessMode, AgentTool, LaunchProvider, LaunchSpeed, ReasoningEffort, WireEnum};
use crate::error::FieldError;

/// Longest `launchConfig.model`, in characters (the 653bc6a server's limit).
pub const MAX_LAUNCH_MODEL_CHARS: usize = 200;

/// `{provider, model, reasoningEffort?, speed?, accessMode?}`. Other keys of a request's
/// object are dropped, as the 653bc6a server's schema strips them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchConfig {
    /// Provider; decides the agent tool ([`LaunchProvider::agent_tool`]).
    pub provider: LaunchProvider,
    /// Model id, e.g. `claude-opus-4-8`, `gpt-5.5`.
    pub model: String,
    /// Reasoning effort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Speed tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<LaunchSpeed>,
    /// Access mode; decides the permission mode ([`AccessMode::permission_mode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<AccessMode>,
}

impl LaunchConfig {
    /// The agent tool that runs it.
    pub fn agent_tool(&self) -> AgentTool {
        self.provider.agent_tool()
    }

    /// Reads a request's `launchConfig` found at `path` (e.g. `launchConfig`,
    /// `memberOverrides.tm_1.launchConfig`).
    ///
    /// # Errors
    /// Every offending field as `{path, message}`: not an object; `provider` missing or not
    /// one of `claude | openai | hermes | gemini`; `model` missing, not a string, empty,
    /// longer than [`MAX_LAUNCH_MODEL_CHARS`], with control characters or starting with `-`
    /// (it reaches the CLI's argv); `reasoningEffort`, `speed`, `accessMode` outside their sets.
    pub fn from_request(value: &Value, path: &str) -> Result<Self, Vec<FieldError>> {
        let Some(obj) = value.as_object() else {
            return Err(vec![FieldError::new(
                path,
                "must be an object {provider, model, reasoningEffort?, speed?, accessMode?}",
            )]);
        };
        let mut bad = Vec::new();
        let provider = required_enum::<LaunchProvider>(obj.get("provider"), path, "provider");
        let model = match obj.get("model") {
            Some(Value::String(m)) => match model_problem(m) {
                None => Some(m.clone()),
                Some(p) => {
                    bad.push(FieldError::new(format!("{path}.model"), p));
                    None
                }
            },
            None | Some(Value::Null) => {
                bad.push(FieldError::new(format!("{path}.model"), "is required"));
                None
            }
            Some(_) => {
                bad.push(FieldError::new(format!("{path}.model"), "must be a string"));
                None
            }
        };
        let provider = provider.map_err(|e| bad.push(e)).ok();
        let reasoning_effort = optional_enum(obj.get("reasoningEffort"), path, "reasoningEffort")
            .map_err(|e| bad.push(e))
            .ok()
            .flatten();
        let speed = optional_enum(obj.get("speed"), path, "speed")
            .map_err(|e| bad.push(e))
            .ok()
            .flatten();
        let access_mode = optional_enum(obj.get("accessMode"), path, "accessMode")
            .map_err(|e| bad.push(e))
            .ok()
            .flatten();
        match (provider, model) {
            (Some(provider), Some(model)) if bad.is_empty() => Ok(Self {
                provider,
                model,
                reasoning_effort,
                speed,
                access_mode,
            }),
            _ => Err(bad),
        }
    }
}

/// Why `model` cannot be a launch model, if it cannot.
fn model_problem(model: &str) -> Option<&'static str> {
    if model.is_empty() {
        Some("must not be empty")
    } else if model.chars().count() > MAX_LAUNCH_MODEL_CHARS {
        Some("must be at most 200 characters")
    } else if model.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if model.starts_with('-') {
        Some("must not start with '-' (it would be read as a CLI option)")
    } else {
        None
    }
}

fn enum_problem<E: WireEnum>() -> String {
    format!("must be one of {}", E::expected())
}

fn required_enum<E: WireEnum>(v: Option<&Value>, path: &str, key: &str) -> Result<E, FieldError> {
    match v {
        None | Some(Value::Null) => Err(FieldError::new(format!("{path}.{key}"), "is required")),
        Some(v) => v
            .as_str()
            .and_then(E::parse)
            .ok_or_else(|| FieldError::new(format!("{path}.{key}"), enum_problem::<E>())),
    }
}

fn optional_enum<E: WireEnum>(
    v: Option<&Value>,
    path: &str,
    key: &str,
) -> Result<Option<E>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(_) => required_enum(v, path, key).map(Some),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_what_the_newer_cli_sends_and_drops_unknown_keys() {
        let v = json!({"provider":"openai","model":"gpt-5.5","reasoningEffort":"high","speed":"fast","accessMode":"fullAccess","temperature":1});
        let lc = LaunchConfig::from_request(&v, "launchConfig").unwrap();
        assert_eq!(lc.agent_tool(), AgentTool::Codex);
        assert_eq!(
            serde_json::to_value(&lc).unwrap(),
            json!({"provider":"openai","model":"gpt-5.5","reasoningEffort":"high","speed":"fast","accessMode":"fullAccess"})
        );
    }

    #[test]
    fn lists_every_bad_field() {
        let errs = LaunchConfig::from_request(
            &json!({"provider":"azure","model":"","speed":3}),
            "launchConfig",
        )
        .unwrap_err();
        let paths: Vec<_> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "launchConfig.model",
                "launchConfig.provider",
                "launchConfig.speed"
            ]
        );
        assert_eq!(
            LaunchConfig::from_request(&json!("claude"), "launchConfig").unwrap_err()[0].path,
            "launchConfig"
        );
        assert_eq!(
            LaunchConfig::from_request(&json!({"provider":"claude"}), "x").unwrap_err(),
            vec![FieldError::new("x.model", "is required")]
        );
    }
}
