//! Model profiles (newer reference): named launch configurations a team member can point at
//! (`modelProfileId`). This server serves the four tiers the newer reference seeds into an
//! empty workspace, read-only; profiles cannot be created, edited or deleted here.

use std::sync::LazyLock;

use serde::Serialize;

/// How a profile launches an agent (its `launchConfig`: provider and model; the built-in
/// tiers set no reasoning effort, speed or access mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileLaunchConfig {
    /// `claude`, `openai`, `gemini` or `hermes`.
    pub provider: String,
    /// The provider's model name.
    pub model: String,
}

/// A model profile as `GET /api/model-profiles` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelProfile {
    /// `mp_…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// One line on what the tier is for.
    pub description: String,
    /// What the profile launches.
    pub launch_config: ProfileLaunchConfig,
    /// True for the built-in tiers.
    pub is_default: bool,
    /// ISO 8601 (model profiles carry ISO timestamps, like team members).
    pub created_at: String,
    /// ISO 8601.
    pub updated_at: String,
}

/// When the built-in tiers were defined (they never change, so their timestamps are fixed).
const DEFINED: &str = "2026-07-02T00:00:00.000Z";

/// `(id, name, description, provider, model)` of the built-in tiers, most capable first.
const TIERS: [(&str, &str, &str, &str, &str); 4] = [
    (
        "mp_ultra",
        "Ultra",
        "Most capable tier — Opus 4.8 (1M context).",
        "claude",
        "claude-opus-4-8[1m]",
    ),
    (
        "mp_heavy",
        "Heavy",
        "High-capability tier — Opus 4.8.",
        "claude",
        "claude-opus-4-8",
    ),
    (
        "mp_balanced",
        "Balanced",
        "Strong default tier — Sonnet 4.6.",
        "claude",
        "claude-sonnet-4-6",
    ),
    (
        "mp_fast",
        "Fast",
        "Lightweight, low-cost tier — Haiku 4.5.",
        "claude",
        "claude-haiku-4-5",
    ),
];

static BUILT_IN: LazyLock<Vec<ModelProfile>> = LazyLock::new(|| {
    TIERS
        .iter()
        .map(|&(id, name, description, provider, model)| ModelProfile {
            id: id.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            launch_config: ProfileLaunchConfig {
                provider: provider.to_owned(),
                model: model.to_owned(),
            },
            is_default: true,
            created_at: DEFINED.to_owned(),
            updated_at: DEFINED.to_owned(),
        })
        .collect()
});

/// Every model profile: the four built-in tiers (`mp_ultra`, `mp_heavy`, `mp_balanced`,
/// `mp_fast`), most capable first.
pub fn model_profiles() -> &'static [ModelProfile] {
    &BUILT_IN
}

/// The model profile `id`, if there is one.
pub fn model_profile(id: &str) -> Option<&'static ModelProfile> {
    BUILT_IN.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_built_in_tiers() {
        let ids: Vec<_> = model_profiles().iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["mp_ultra", "mp_heavy", "mp_balanced", "mp_fast"]);
        let heavy = model_profile("mp_heavy").map(|p| serde_json::to_value(p).ok());
        assert_eq!(
            heavy,
            Some(Some(serde_json::json!({
                "id": "mp_heavy", "name": "Heavy",
                "description": "High-capability tier — Opus 4.8.",
                "launchConfig": { "provider": "claude", "model": "claude-opus-4-8" },
                "isDefault": true,
                "createdAt": DEFINED, "updatedAt": DEFINED,
            })))
        );
        assert!(model_profile("mp_nope").is_none());
    }
}
