//! Team members: custom members in `team-members/<projectId>/<id>.json` (global members,
//! newer reference: `team-members/__global__/<id>.json`) and overrides of the default members
//! in `team-members/<projectId>/<defaultId>.override.json` (ref §1.9).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use maestro_domain::entities::TeamMember;
use maestro_domain::ports::TeamMemberRepository;
use maestro_domain::{DomainError, DomainResult};

use super::table::{Change, Table};
use super::{Ctx, found};
use crate::layout::check_id;
use crate::op::{Op, Stray};

type Key = (String, String);

/// A custom member and the file it is stored in: `team-members/<home>/<id>.json`, or, for a
/// member loaded from another directory, that file (moved by its next write).
#[derive(Debug, Clone)]
pub(crate) struct StoredMember {
    pub(crate) member: TeamMember,
    pub(crate) file: PathBuf,
}

/// Stored as its member.
impl serde::Serialize for StoredMember {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.member.serialize(s)
    }
}

/// [`TeamMemberRepository`] on `team-members/<home>/`: a project's directory, or
/// `__global__/` for global members. Custom members are keyed by id alone (ids are unique
/// across homes), so a scope change is one change of one row: the new file is written and
/// the old one removed with it (journaled together).
pub struct FsTeamMemberRepository {
    ctx: Arc<Ctx>,
    custom: Arc<Table<String, StoredMember>>,
    overrides: Arc<Table<Key, Map<String, Value>>>,
}

fn key(a: &str, b: &str) -> Key {
    (a.to_owned(), b.to_owned())
}

fn member_order(a: &TeamMember, b: &TeamMember) -> std::cmp::Ordering {
    a.created_at
        .cmp(&b.created_at)
        .then_with(|| a.id.cmp(&b.id))
}

impl FsTeamMemberRepository {
    pub(crate) fn new(
        ctx: Arc<Ctx>,
        custom: HashMap<String, StoredMember>,
        overrides: HashMap<Key, Map<String, Value>>,
    ) -> Self {
        Self {
            ctx,
            custom: Table::new(custom),
            overrides: Table::new(overrides),
        }
    }

    /// Every custom member of every home, by project id, then `createdAt`, then id (for
    /// exports such as `import-fs`, and tests).
    pub fn all_custom(&self) -> Vec<TeamMember> {
        self.custom.with_rows(|rows| {
            let mut v: Vec<&TeamMember> = rows.map(|r| &r.member).collect();
            v.sort_unstable_by(|a, b| {
                a.project_id
                    .cmp(&b.project_id)
                    .then_with(|| member_order(a, b))
            });
            v.into_iter().cloned().collect()
        })
    }

    /// Every stored override as `(projectId, defaultId, override)`, sorted by key.
    pub fn all_overrides(&self) -> Vec<(String, String, Map<String, Value>)> {
        let rows = self.overrides.read();
        let mut v: Vec<_> = rows
            .iter()
            .filter_map(|((p, id), row)| row.get().map(|o| (p.clone(), id.clone(), Map::clone(o))))
            .collect();
        v.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }

    async fn put_override_state(
        &self,
        project_id: &str,
        default_id: &str,
        value: Option<Map<String, Value>>,
    ) -> DomainResult<()> {
        check_id("projectId", project_id)?;
        check_id("id", default_id)?;
        let path = self.ctx.layout.member_override(project_id, default_id);
        self.overrides
            .mutate(
                &self.ctx,
                key(project_id, default_id),
                // A deletion unlinks even when nothing was loaded: an unreadable override
                // file is reset too.
                |_| {
                    Ok(match value {
                        Some(v) => Change::Put(v, ()),
                        None => Change::Delete(()),
                    })
                },
                |_, new| match new {
                    Some(v) => (path, Op::json(v.clone(), None)),
                    None => (path, Op::Delete { also: None }),
                },
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl TeamMemberRepository for FsTeamMemberRepository {
    async fn list_custom(&self, home: &str) -> DomainResult<Vec<TeamMember>> {
        Ok(self.custom.with_rows(|rows| {
            let mut v: Vec<&TeamMember> = rows
                .map(|r| &r.member)
                .filter(|m| m.home() == home)
                .collect();
            v.sort_unstable_by(|a, b| member_order(a, b));
            v.into_iter().cloned().collect()
        }))
    }

    async fn get_custom(&self, home: &str, id: &str) -> DomainResult<Option<TeamMember>> {
        Ok(self
            .custom
            .get(&id.to_owned())
            .filter(|r| r.member.home() == home)
            .map(|r| r.member.clone()))
    }

    async fn find_custom(&self, id: &str) -> DomainResult<Option<TeamMember>> {
        Ok(self.custom.get(&id.to_owned()).map(|r| r.member.clone()))
    }

    async fn put_custom(&self, member: TeamMember) -> DomainResult<TeamMember> {
        check_id("id", &member.id)?;
        check_id("projectId", &member.project_id)?;
        let path = self.ctx.layout.member(member.home(), &member.id);
        let id = member.id.clone();
        let row = StoredMember {
            member,
            file: path.clone(),
        };
        let (new, ()) = self
            .custom
            .mutate(
                &self.ctx,
                id.clone(),
                |_| Ok(Change::Put(row, ())),
                |old, new| match new {
                    Some(m) => {
                        // A scope change (or a file loaded from another directory): the old
                        // file goes with this write.
                        let stray = old
                            .filter(|o| o.file != path)
                            .map(|o| Stray::new(o.file.clone()));
                        (path, Op::json(m.clone(), stray))
                    }
                    None => (path, Op::Delete { also: None }),
                },
            )
            .await?;
        found(new, "TeamMember", &id).map(|r| r.member)
    }

    async fn delete_custom(&self, home: &str, id: &str) -> DomainResult<()> {
        self.custom
            .mutate(
                &self.ctx,
                id.to_owned(),
                |old| match old {
                    Some(r) if r.member.home() == home => Ok(Change::Delete(())),
                    _ => Err(DomainError::not_found("TeamMember", id)),
                },
                |old, _| {
                    let path =
                        old.map_or_else(|| self.ctx.layout.member(home, id), |r| r.file.clone());
                    (path, Op::Delete { also: None })
                },
            )
            .await?;
        Ok(())
    }

    async fn get_override(
        &self,
        project_id: &str,
        default_id: &str,
    ) -> DomainResult<Option<Map<String, Value>>> {
        Ok(self
            .overrides
            .get(&key(project_id, default_id))
            .map(|o| Map::clone(&o)))
    }

    async fn put_override(
        &self,
        project_id: &str,
        default_id: &str,
        value: Map<String, Value>,
    ) -> DomainResult<()> {
        self.put_override_state(project_id, default_id, Some(value))
            .await
    }

    async fn delete_override(&self, project_id: &str, default_id: &str) -> DomainResult<()> {
        self.put_override_state(project_id, default_id, None).await
    }
}
