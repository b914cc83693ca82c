//! Skill discovery on disk (ref §4.7 "MultiScopeSkillLoader", ref §1.12 skill shapes).
//!
//! A skill is a directory holding a `SKILL.md`: YAML front matter between two `---` lines,
//! then a markdown body. Skills come from up to four source directories, scanned in this
//! order:
//!
//! 1. `<home>/.claude/skills` — global scope, source `claude`
//! 2. `<home>/.agents/skills` — global scope, source `agents`
//! 3. `<projectPath>/.claude/skills` — project scope, source `claude` (only with a project)
//! 4. `<projectPath>/.agents/skills` — project scope, source `agents` (only with a project)
//!
//! A skill found later overrides an earlier one with the same *directory* name; it keeps the
//! earlier one's position in the list. Within one source directory skills are taken in
//! directory-name order, so listings are stable.
//!
//! The loader reads the disk on every call (no cache): skill trees are small, and a reader
//! that never caches cannot serve stale skills. [`SkillLoader::reload`] therefore only
//! re-reads. File access is synchronous `std::fs`; async callers run it on a blocking thread.
//! Nothing here fails loudly: unreadable directories and files, and malformed front matter,
//! are skipped with a `warn` log.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value as Yaml;

/// Where a skill was found: under the user's home or under the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SkillScope {
    /// `<projectPath>/.claude/skills` or `<projectPath>/.agents/skills`.
    Project,
    /// `~/.claude/skills` or `~/.agents/skills`.
    Global,
}

/// Which tool's skill directory a skill was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SkillSource {
    /// A `.claude/skills` directory.
    Claude,
    /// A `.agents/skills` directory.
    Agents,
}

/// The `type` of a skill in detail and summary responses, derived from its `role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SkillType {
    /// Front matter `role: orchestrator`.
    Mode,
    /// Any other role.
    Custom,
    /// No role in the front matter.
    System,
}

impl SkillType {
    /// The type for a front-matter `role`.
    fn from_role(role: Option<&str>) -> Self {
        match role {
            None => Self::System,
            Some("orchestrator") => Self::Mode,
            Some(_) => Self::Custom,
        }
    }
}

/// One entry of `GET /api/skills` (ref §1.12 "Skill list item").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillListItem {
    /// Front-matter `name`, or the directory name when there is none.
    pub id: String,
    /// Same as `id`.
    pub name: String,
    /// Front-matter `description`, `''` by default.
    pub description: String,
    /// Front-matter `version`, `1.0.0` by default.
    pub version: String,
    /// Phrases that should trigger the skill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<String>>,
    /// Role, e.g. `orchestrator`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Project or global.
    pub skill_scope: SkillScope,
    /// Claude or agents.
    pub skill_source: SkillSource,
    /// The skill's directory.
    pub skill_path: String,
    /// Front-matter `output-format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// Programming language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Framework.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// License.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Markdown body after the front matter.
    pub content: String,
    /// Always `false`.
    pub has_references: bool,
    /// Always `0`.
    pub reference_count: u32,
}

/// `GET /api/skills/:id` (ref §1.12 "Skill detail").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillDetail {
    /// `{id, name, description, type, version}`.
    #[serde(flatten)]
    pub summary: SkillSummary,
    /// Markdown body.
    pub instructions: String,
}

/// A skill in `GET /api/skills/mode/:mode` and `POST /api/skills/:id/reload` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillSummary {
    /// Front-matter `name`, or the directory name.
    pub id: String,
    /// Same as `id`.
    pub name: String,
    /// Description, `''` by default.
    pub description: String,
    /// Derived from the role.
    #[serde(rename = "type")]
    pub kind: SkillType,
    /// Version, `1.0.0` by default.
    pub version: String,
}

/// `by_mode` was given something other than `execute` or `coordinate`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Mode must be \"execute\" or \"coordinate\"")]
pub struct InvalidMode {
    /// The rejected value.
    pub mode: String,
}

/// A parsed skill directory.
#[derive(Debug, Clone)]
struct Skill {
    dir_name: String,
    item: SkillListItem,
}

impl Skill {
    fn matches(&self, id: &str) -> bool {
        self.item.id == id || self.dir_name == id
    }

    fn kind(&self) -> SkillType {
        SkillType::from_role(self.item.role.as_deref())
    }

    fn summary(&self) -> SkillSummary {
        SkillSummary {
            id: self.item.id.clone(),
            name: self.item.name.clone(),
            description: self.item.description.clone(),
            kind: self.kind(),
            version: self.item.version.clone(),
        }
    }

    fn detail(&self) -> SkillDetail {
        SkillDetail {
            summary: self.summary(),
            instructions: self.item.content.clone(),
        }
    }
}

/// Reads skills from the user's home and, optionally, a project directory.
#[derive(Debug, Clone)]
pub struct SkillLoader {
    home: PathBuf,
}

impl SkillLoader {
    /// A loader for the skills under `home` (normally the user's home directory).
    pub fn new(home: PathBuf) -> Self {
        Self { home }
    }

    /// `GET /api/skills`: global skills, then the project's if `project_path` is given.
    ///
    /// Never fails: anything unreadable is skipped, so the worst case is an empty list.
    pub fn list(&self, project_path: Option<&Path>) -> Vec<SkillListItem> {
        self.scan(project_path)
            .into_iter()
            .map(|skill| skill.item)
            .collect()
    }

    /// `GET /api/skills/:id`: the global skill whose front-matter name or directory name is
    /// `id`. Project skills are not searched.
    pub fn get(&self, id: &str) -> Option<SkillDetail> {
        self.find_global(id).map(|skill| skill.detail())
    }

    /// `GET /api/skills/mode/:mode`: global skills for a mode. `coordinate` selects skills
    /// whose role is `orchestrator`; `execute` selects all the others (including skills
    /// without a role).
    ///
    /// # Errors
    /// [`InvalidMode`] if `mode` is neither `execute` nor `coordinate`.
    pub fn by_mode(&self, mode: &str) -> Result<Vec<SkillSummary>, InvalidMode> {
        let want_orchestrator = match mode {
            "coordinate" => true,
            "execute" => false,
            other => {
                return Err(InvalidMode {
                    mode: other.to_owned(),
                });
            }
        };
        Ok(self
            .scan(None)
            .iter()
            .filter(|s| (s.item.role.as_deref() == Some("orchestrator")) == want_orchestrator)
            .map(Skill::summary)
            .collect())
    }

    /// `POST /api/skills/:id/reload`: re-reads the global skill `id` from disk. The loader
    /// keeps no cache, so this is a fresh lookup. `None` if the skill does not exist.
    pub fn reload(&self, id: &str) -> Option<SkillSummary> {
        self.find_global(id).map(|skill| skill.summary())
    }

    fn find_global(&self, id: &str) -> Option<Skill> {
        self.scan(None).into_iter().find(|s| s.matches(id))
    }

    /// The source directories in scan order.
    fn sources(&self, project_path: Option<&Path>) -> Vec<(PathBuf, SkillScope, SkillSource)> {
        let mut sources = vec![
            (
                self.home.join(".claude").join("skills"),
                SkillScope::Global,
                SkillSource::Claude,
            ),
            (
                self.home.join(".agents").join("skills"),
                SkillScope::Global,
                SkillSource::Agents,
            ),
        ];
        if let Some(project) = project_path {
            sources.push((
                project.join(".claude").join("skills"),
                SkillScope::Project,
                SkillSource::Claude,
            ));
            sources.push((
                project.join(".agents").join("skills"),
                SkillScope::Project,
                SkillSource::Agents,
            ));
        }
        sources
    }

    /// Every skill of every source, later sources overriding earlier ones by directory name.
    fn scan(&self, project_path: Option<&Path>) -> Vec<Skill> {
        let mut skills: Vec<Skill> = Vec::new();
        for (dir, scope, source) in self.sources(project_path) {
            for skill in read_source(&dir, scope, source) {
                match skills.iter_mut().find(|s| s.dir_name == skill.dir_name) {
                    Some(slot) => *slot = skill,
                    None => skills.push(skill),
                }
            }
        }
        skills
    }
}

/// The skills of one source directory, in directory-name order. A missing directory is
/// simply empty.
fn read_source(dir: &Path, scope: SkillScope, source: SkillSource) -> Vec<Skill> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read skill directory");
            return Vec::new();
        }
    };
    let mut dirs: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            if name.starts_with('.') {
                return None;
            }
            // `metadata` follows symlinks, so a linked skill directory counts.
            let path = entry.path();
            fs::metadata(&path)
                .ok()
                .filter(|m| m.is_dir())
                .map(|_| (name, path))
        })
        .collect();
    dirs.sort();
    dirs.into_iter()
        .filter_map(|(name, path)| read_skill(name, &path, scope, source))
        .collect()
}

/// Reads `<path>/SKILL.md`; `None` (with a log for anything but a missing file) if it cannot
/// be used.
fn read_skill(
    dir_name: String,
    path: &Path,
    scope: SkillScope,
    source: SkillSource,
) -> Option<Skill> {
    let file = path.join("SKILL.md");
    let text = match fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "cannot read SKILL.md");
            return None;
        }
    };
    let (front, body) = split_front_matter(&text);
    let meta = match front {
        None => Yaml::Null,
        Some(yaml) => match serde_yaml_ng::from_str::<Yaml>(yaml) {
            Ok(value) => value,
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "skipping skill with malformed front matter");
                return None;
            }
        },
    };
    let meta = match meta {
        Yaml::Mapping(map) => map,
        Yaml::Null => serde_yaml_ng::Mapping::new(),
        _ => {
            tracing::warn!(file = %file.display(), "skipping skill whose front matter is not a mapping");
            return None;
        }
    };
    let text_field = |key: &str| meta.get(key).and_then(scalar_text);
    let list_field = |key: &str| meta.get(key).and_then(text_list);

    let id = text_field("name")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| dir_name.clone());
    let item = SkillListItem {
        name: id.clone(),
        id,
        description: text_field("description").unwrap_or_default(),
        version: text_field("version").unwrap_or_else(|| "1.0.0".to_owned()),
        triggers: list_field("triggers"),
        role: text_field("role"),
        skill_scope: scope,
        skill_source: source,
        skill_path: path.to_string_lossy().into_owned(),
        output_format: text_field("output-format"),
        language: text_field("language"),
        framework: text_field("framework"),
        tags: list_field("tags"),
        category: text_field("category"),
        license: text_field("license"),
        content: body.to_owned(),
        has_references: false,
        reference_count: 0,
    };
    Some(Skill { dir_name, item })
}

/// Splits `SKILL.md` into its front matter (without the `---` lines) and its body.
///
/// Front matter exists only when the first line is `---` and a later line is `---`;
/// otherwise the whole text is the body.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(first_line_end) = text.find('\n') else {
        return (None, text);
    };
    if text[..first_line_end].trim_end() != "---" {
        return (None, text);
    }
    let rest = &text[first_line_end + 1..];
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let front = &rest[..offset];
            let body = &rest[offset + line.len()..];
            let body = body
                .strip_prefix("\r\n")
                .or_else(|| body.strip_prefix('\n'))
                .unwrap_or(body);
            return (Some(front), body);
        }
        offset += line.len();
    }
    (None, text)
}

/// A YAML scalar as text (`1.0` → `"1.0"`); `None` for null, sequences and mappings.
fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A YAML sequence of scalars as texts; a single scalar becomes a one-element list.
fn text_list(value: &Yaml) -> Option<Vec<String>> {
    match value {
        Yaml::Sequence(items) => Some(items.iter().filter_map(scalar_text).collect()),
        other => scalar_text(other).map(|s| vec![s]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_split_from_body() {
        let (front, body) = split_front_matter("---\nname: a\n---\n# Body\ntext\n");
        assert_eq!(front, Some("name: a\n"));
        assert_eq!(body, "# Body\ntext\n");
    }

    #[test]
    fn crlf_front_matter_is_split() {
        let (front, body) = split_front_matter("---\r\nname: a\r\n---\r\nBody");
        assert_eq!(front, Some("name: a\r\n"));
        assert_eq!(body, "Body");
    }

    #[test]
    fn text_without_front_matter_is_all_body() {
        assert_eq!(split_front_matter("# Title\n"), (None, "# Title\n"));
        assert_eq!(
            split_front_matter("---\nname: a\n"),
            (None, "---\nname: a\n")
        );
    }

    #[test]
    fn scalars_become_text() {
        assert_eq!(scalar_text(&Yaml::from(2.5)), Some("2.5".to_owned()));
        assert_eq!(text_list(&Yaml::from("one")), Some(vec!["one".to_owned()]));
    }
}
