//! Team members: custom members in `team-members/<projectId>/<id>.json` and overrides of the
//! default members in `team-members/<projectId>/<defaultId>.override.json` (ref §1.9).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use maestro_domain::entities::TeamMember;
use maestro_domain::ports::TeamMemberRepository;
use maestro_domain::{DomainError, DomainResult};

use super::table::{Change, Table};
use super::{Ctx, found};
use crate::layout::check_id;
use crate::op::Op;

type Key = (String, String);

/// [`TeamMemberRepository`] on `team-members/<projectId>/`.
pub struct FsTeamMemberRepository {
    ctx: Arc<Ctx>,
    custom: Arc<Table<Key, TeamMember>>,
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
        custom: HashMap<Key, TeamMember>,
        overrides: HashMap<Key, Map<String, Value>>,
    ) -> Self {
        Self {
            ctx,
            custom: Table::new(custom),
            overrides: Table::new(overrides),
        }
    }

    /// Every custom member of every project, by project id, then `createdAt`, then id (for
    /// exports such as `import-fs`, and tests).
    pub fn all_custom(&self) -> Vec<TeamMember> {
        self.custom.with_rows(|rows| {
            let mut v: Vec<&TeamMember> = rows.collect();
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
    async fn list_custom(&self, project_id: &str) -> DomainResult<Vec<TeamMember>> {
        Ok(self.custom.with_rows(|rows| {
            let mut v: Vec<&TeamMember> = rows.filter(|m| m.project_id == project_id).collect();
            v.sort_unstable_by(|a, b| member_order(a, b));
            v.into_iter().cloned().collect()
        }))
    }

    async fn get_custom(&self, project_id: &str, id: &str) -> DomainResult<Option<TeamMember>> {
        Ok(self
            .custom
            .get(&key(project_id, id))
            .map(|m| TeamMember::clone(&m)))
    }

    async fn put_custom(&self, member: TeamMember) -> DomainResult<TeamMember> {
        check_id("id", &member.id)?;
        check_id("projectId", &member.project_id)?;
        let path = self.ctx.layout.member(&member.project_id, &member.id);
        let (k, id) = (key(&member.project_id, &member.id), member.id.clone());
        let (new, ()) = self
            .custom
            .mutate(
                &self.ctx,
                k,
                |_| Ok(Change::Put(member, ())),
                |_, new| match new {
                    Some(m) => (path, Op::json(m.clone(), None)),
                    None => (path, Op::Delete { also: None }),
                },
            )
            .await?;
        found(new, "TeamMember", &id)
    }

    async fn delete_custom(&self, project_id: &str, id: &str) -> DomainResult<()> {
        let path = self.ctx.layout.member(project_id, id);
        self.custom
            .mutate(
                &self.ctx,
                key(project_id, id),
                |old| match old {
                    Some(_) => Ok(Change::Delete(())),
                    None => Err(DomainError::not_found("TeamMember", id)),
                },
                |_, _| (path, Op::Delete { also: None }),
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
