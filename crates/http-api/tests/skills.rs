//! `SkillLoader` against skill trees written into temporary directories.

use std::fs;
use std::path::Path;

use maestro_http_api::skills::{SkillLoader, SkillScope, SkillSource, SkillType};
use serde_json::json;
use tempfile::TempDir;

/// Writes `<root>/<dir>/SKILL.md`.
fn skill(root: &Path, dir: &str, text: &str) {
    let path = root.join(dir);
    fs::create_dir_all(&path).expect("create skill dir");
    fs::write(path.join("SKILL.md"), text).expect("write SKILL.md");
}

fn claude_global(home: &Path) -> std::path::PathBuf {
    home.join(".claude").join("skills")
}

fn agents_global(home: &Path) -> std::path::PathBuf {
    home.join(".agents").join("skills")
}

const FULL: &str = "---
name: code-review
description: Reviews diffs for bugs
triggers:
  - review
  - check my diff
role: reviewer
scope: project
output-format: markdown
version: 2.1.0
language: rust
framework: axum
tags: [quality, review]
category: engineering
license: MIT
---
# Code review

Look at the diff.
";

#[test]
fn no_skill_directories_gives_an_empty_list() {
    let home = TempDir::new().expect("tempdir");
    let loader = SkillLoader::new(home.path().to_path_buf());
    assert!(loader.list(None).is_empty());
    assert!(
        loader
            .list(Some(Path::new("/nonexistent/project")))
            .is_empty()
    );
    assert_eq!(loader.get("anything"), None);
    assert_eq!(loader.by_mode("execute"), Ok(vec![]));
}

#[test]
fn list_item_has_every_front_matter_field_in_camel_case() {
    let home = TempDir::new().expect("tempdir");
    skill(&claude_global(home.path()), "review", FULL);
    let loader = SkillLoader::new(home.path().to_path_buf());

    let items = loader.list(None);
    assert_eq!(items.len(), 1);
    let json = serde_json::to_value(&items[0]).expect("serialize");
    let skill_path = claude_global(home.path()).join("review");
    assert_eq!(
        json,
        json!({
            "id": "code-review",
            "name": "code-review",
            "description": "Reviews diffs for bugs",
            "version": "2.1.0",
            "triggers": ["review", "check my diff"],
            "role": "reviewer",
            "skillScope": "global",
            "skillSource": "claude",
            "skillPath": skill_path.to_string_lossy(),
            "outputFormat": "markdown",
            "language": "rust",
            "framework": "axum",
            "tags": ["quality", "review"],
            "category": "engineering",
            "license": "MIT",
            "content": "# Code review\n\nLook at the diff.\n",
            "hasReferences": false,
            "referenceCount": 0
        })
    );
}

#[test]
fn defaults_apply_and_optional_fields_are_absent() {
    let home = TempDir::new().expect("tempdir");
    skill(
        &claude_global(home.path()),
        "bare",
        "---\n---\nJust a body.\n",
    );
    skill(
        &claude_global(home.path()),
        "no-front",
        "# No front matter\n",
    );
    skill(
        &claude_global(home.path()),
        "numeric",
        "---\nname: numeric\nversion: 1.5\ntriggers: single\n---\nx",
    );
    let loader = SkillLoader::new(home.path().to_path_buf());

    let items = loader.list(None);
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["bare", "no-front", "numeric"]);

    let bare = serde_json::to_value(&items[0]).expect("serialize");
    assert_eq!(bare["name"], "bare");
    assert_eq!(bare["description"], "");
    assert_eq!(bare["version"], "1.0.0");
    assert_eq!(bare["content"], "Just a body.\n");
    for absent in [
        "triggers",
        "role",
        "outputFormat",
        "language",
        "framework",
        "tags",
        "category",
        "license",
    ] {
        assert!(bare.get(absent).is_none(), "{absent} should be absent");
    }
    assert_eq!(items[1].content, "# No front matter\n");
    assert_eq!(items[2].version, "1.5");
    assert_eq!(items[2].triggers, Some(vec!["single".to_owned()]));
}

#[test]
fn dot_directories_files_and_dirs_without_skill_md_are_skipped() {
    let home = TempDir::new().expect("tempdir");
    let root = claude_global(home.path());
    skill(&root, ".hidden", "---\nname: hidden\n---\n");
    skill(&root, "visible", "---\nname: visible\n---\n");
    fs::create_dir_all(root.join("empty")).expect("mkdir");
    fs::write(root.join("loose.md"), "---\nname: loose\n---\n").expect("write");
    let loader = SkillLoader::new(home.path().to_path_buf());

    let ids: Vec<String> = loader.list(None).into_iter().map(|i| i.id).collect();
    assert_eq!(ids, ["visible"]);
}

#[test]
fn malformed_front_matter_skips_only_that_skill() {
    let home = TempDir::new().expect("tempdir");
    let root = claude_global(home.path());
    skill(
        &root,
        "broken",
        "---\nname: [unclosed\ndescription: : :\n---\nbody",
    );
    skill(&root, "scalar", "---\njust a string\n---\nbody");
    skill(&root, "fine", "---\nname: fine\n---\nbody");
    let loader = SkillLoader::new(home.path().to_path_buf());

    let ids: Vec<String> = loader.list(None).into_iter().map(|i| i.id).collect();
    assert_eq!(ids, ["fine"]);
    assert_eq!(loader.get("broken"), None);
}

#[test]
fn later_scopes_override_earlier_ones_by_directory_name() {
    let home = TempDir::new().expect("tempdir");
    let project = TempDir::new().expect("tempdir");
    skill(
        &claude_global(home.path()),
        "alpha",
        "---\nname: alpha\ndescription: claude\n---\n",
    );
    skill(
        &claude_global(home.path()),
        "beta",
        "---\nname: beta\n---\n",
    );
    skill(
        &agents_global(home.path()),
        "alpha",
        "---\nname: alpha\ndescription: agents\n---\n",
    );
    skill(
        &agents_global(home.path()),
        "gamma",
        "---\nname: gamma\n---\n",
    );
    let project_claude = project.path().join(".claude").join("skills");
    let project_agents = project.path().join(".agents").join("skills");
    skill(
        &project_claude,
        "beta",
        "---\nname: beta\ndescription: project\n---\n",
    );
    skill(&project_agents, "delta", "---\nname: delta\n---\n");
    let loader = SkillLoader::new(home.path().to_path_buf());

    // Without a project: global skills only; agents overrides claude for `alpha`.
    let global = loader.list(None);
    let summary: Vec<(&str, &str, SkillScope, SkillSource)> = global
        .iter()
        .map(|i| {
            (
                i.id.as_str(),
                i.description.as_str(),
                i.skill_scope,
                i.skill_source,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("alpha", "agents", SkillScope::Global, SkillSource::Agents),
            ("beta", "", SkillScope::Global, SkillSource::Claude),
            ("gamma", "", SkillScope::Global, SkillSource::Agents),
        ]
    );

    // With the project: project `beta` wins, `delta` is added.
    let all = loader.list(Some(project.path()));
    let summary: Vec<(&str, &str, SkillScope, SkillSource)> = all
        .iter()
        .map(|i| {
            (
                i.id.as_str(),
                i.description.as_str(),
                i.skill_scope,
                i.skill_source,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("alpha", "agents", SkillScope::Global, SkillSource::Agents),
            ("beta", "project", SkillScope::Project, SkillSource::Claude),
            ("gamma", "", SkillScope::Global, SkillSource::Agents),
            ("delta", "", SkillScope::Project, SkillSource::Agents),
        ]
    );
    assert_eq!(
        all[1].skill_path,
        project_claude.join("beta").to_string_lossy()
    );
}

#[test]
fn get_matches_front_matter_name_or_directory_name_in_global_scopes_only() {
    let home = TempDir::new().expect("tempdir");
    skill(&claude_global(home.path()), "review-dir", FULL);
    skill(
        &claude_global(home.path()),
        "orch",
        "---\nname: orchestrate\nrole: orchestrator\n---\nLead.\n",
    );
    skill(
        &agents_global(home.path()),
        "plain",
        "---\nname: plain\ndescription: no role\n---\nPlain.\n",
    );
    let loader = SkillLoader::new(home.path().to_path_buf());

    let by_name = loader.get("code-review").expect("by name");
    let by_dir = loader.get("review-dir").expect("by dir");
    assert_eq!(by_name, by_dir);
    assert_eq!(
        serde_json::to_value(&by_name).expect("serialize"),
        json!({
            "id": "code-review",
            "name": "code-review",
            "description": "Reviews diffs for bugs",
            "type": "custom",
            "version": "2.1.0",
            "instructions": "# Code review\n\nLook at the diff.\n"
        })
    );
    assert_eq!(
        loader.get("orchestrate").map(|d| d.summary.kind),
        Some(SkillType::Mode)
    );
    let plain = loader.get("plain").expect("plain");
    assert_eq!(plain.summary.kind, SkillType::System);
    assert_eq!(plain.summary.version, "1.0.0");
    assert_eq!(loader.get("missing"), None);
}

#[test]
fn get_ignores_project_skills() {
    let home = TempDir::new().expect("tempdir");
    let project = TempDir::new().expect("tempdir");
    skill(
        &project.path().join(".claude").join("skills"),
        "local",
        "---\nname: local\n---\n",
    );
    let loader = SkillLoader::new(home.path().to_path_buf());

    assert_eq!(loader.list(Some(project.path())).len(), 1);
    assert_eq!(loader.get("local"), None);
}

#[test]
fn by_mode_splits_on_the_orchestrator_role() {
    let home = TempDir::new().expect("tempdir");
    skill(
        &claude_global(home.path()),
        "a-orch",
        "---\nname: a-orch\nrole: orchestrator\ndescription: leads\n---\n",
    );
    skill(
        &claude_global(home.path()),
        "b-worker",
        "---\nname: b-worker\nrole: worker\n---\n",
    );
    skill(
        &agents_global(home.path()),
        "c-none",
        "---\nname: c-none\nversion: 3.0.0\n---\n",
    );
    let loader = SkillLoader::new(home.path().to_path_buf());

    let coordinate = loader.by_mode("coordinate").expect("coordinate");
    assert_eq!(
        serde_json::to_value(&coordinate).expect("serialize"),
        json!([{"id": "a-orch", "name": "a-orch", "description": "leads", "type": "mode", "version": "1.0.0"}])
    );
    let execute = loader.by_mode("execute").expect("execute");
    assert_eq!(
        serde_json::to_value(&execute).expect("serialize"),
        json!([
            {"id": "b-worker", "name": "b-worker", "description": "", "type": "custom", "version": "1.0.0"},
            {"id": "c-none", "name": "c-none", "description": "", "type": "system", "version": "3.0.0"}
        ])
    );
}

#[test]
fn by_mode_rejects_other_modes() {
    let home = TempDir::new().expect("tempdir");
    let loader = SkillLoader::new(home.path().to_path_buf());
    for bad in ["", "Execute", "worker", "coordinator"] {
        let err = loader.by_mode(bad).expect_err("invalid mode");
        assert_eq!(err.mode, bad);
        assert_eq!(
            err.to_string(),
            "Mode must be \"execute\" or \"coordinate\""
        );
    }
}

#[test]
fn reload_reads_the_current_file() {
    let home = TempDir::new().expect("tempdir");
    let root = claude_global(home.path());
    skill(
        &root,
        "evolving",
        "---\nname: evolving\nversion: 1.0.0\n---\n",
    );
    let loader = SkillLoader::new(home.path().to_path_buf());
    assert_eq!(
        loader.get("evolving").map(|d| d.summary.version),
        Some("1.0.0".to_owned())
    );

    skill(
        &root,
        "evolving",
        "---\nname: evolving\nversion: 1.1.0\nrole: orchestrator\n---\n",
    );
    let reloaded = loader.reload("evolving").expect("reloaded");
    assert_eq!(reloaded.version, "1.1.0");
    assert_eq!(reloaded.kind, SkillType::Mode);
    assert_eq!(
        loader.get("evolving").map(|d| d.summary.version),
        Some("1.1.0".to_owned())
    );
    assert_eq!(loader.reload("missing"), None);
}
