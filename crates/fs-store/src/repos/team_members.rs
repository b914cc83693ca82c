//! Team members: custom members in `team-members/<projectId>/<id>.json` and overrides of the
//! default members in `team-members/<projectId>/<defaultId>.override.json` (ref §1.9).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde_json::{Map, Value};

use maestro_domain::entities::TeamMember;
use maestro_domain::ports::TeamMemberRepository;
use maestro_domain::{DomainError, DomainResult};

use super::{Ctx, read, settle, unwrap_arc, write};
use crate::layout::check_id;
use crate::op::Op;

type Key = (String, String);

/// [`TeamMemberRepository`] on `team-members/<projectId>/`.
pub struct FsTeamMemberRepository {
    ctx: Arc<Ctx>,
    custom: RwLock<HashMap<Key, TeamMember>>,
    overrides: RwLock<HashMap<Key, Map<String, Value>>>,
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
            custom: RwLock::new(custom),
            overrides: RwLock::new(overrides),
        }
    }

    /// Every custom member of every project, by project id, then `createdAt`, then id (for
    /// exports such as `import-fs`, and tests).
    pub fn all_custom(&self) -> Vec<TeamMember> {
        let map = read(&self.custom);
        let mut v: Vec<&TeamMember> = map.values().collect();
        v.sort_unstable_by(|a, b| {
            a.project_id
                .cmp(&b.project_id)
                .then_with(|| member_order(a, b))
        });
        v.into_iter().cloned().collect()
    }

    /// Every stored override as `(projectId, defaultId, override)`, sorted by key.
    pub fn all_overrides(&self) -> Vec<(String, String, Map<String, Value>)> {
        let map = read(&self.overrides);
        let mut v: Vec<_> = map
            .iter()
            .map(|((p, id), o)| (p.clone(), id.clone(), o.clone()))
            .collect();
        v.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }
}

#[async_trait]
impl TeamMemberRepository for FsTeamMemberRepository {
    async fn list_custom(&self, project_id: &str) -> DomainResult<Vec<TeamMember>> {
        let map = read(&self.custom);
        let mut v: Vec<&TeamMember> = map
            .values()
            .filter(|m| m.project_id == project_id)
            .collect();
        v.sort_unstable_by(|a, b| member_order(a, b));
        Ok(v.into_iter().cloned().collect())
    }

    async fn get_custom(&self, project_id: &str, id: &str) -> DomainResult<Option<TeamMember>> {
        Ok(read(&self.custom).get(&key(project_id, id)).cloned())
    }

    async fn put_custom(&self, member: TeamMember) -> DomainResult<TeamMember> {
        check_id("id", &member.id)?;
        check_id("projectId", &member.project_id)?;
        let (snap, ticket) = {
            let mut map = write(&self.custom);
            map.insert(key(&member.project_id, &member.id), member.clone());
            let snap = Arc::new(member);
            let path = self.ctx.layout.member(&snap.project_id, &snap.id);
            let ticket = self.ctx.writer.submit(path, Op::json(snap.clone(), None));
            (snap, ticket)
        };
        settle(ticket).await?;
        Ok(unwrap_arc(snap))
    }

    async fn delete_custom(&self, project_id: &str, id: &str) -> DomainResult<()> {
        let ticket = {
            let mut map = write(&self.custom);
            map.remove(&key(project_id, id))
                .ok_or_else(|| DomainError::not_found("TeamMember", id))?;
            let path = self.ctx.layout.member(project_id, id);
            self.ctx.writer.submit(path, Op::Delete { also: None })
        };
        settle(ticket).await
    }

    async fn get_override(
        &self,
        project_id: &str,
        default_id: &str,
    ) -> DomainResult<Option<Map<String, Value>>> {
        Ok(read(&self.overrides)
            .get(&key(project_id, default_id))
            .cloned())
    }

    async fn put_override(
        &self,
        project_id: &str,
        default_id: &str,
        value: Map<String, Value>,
    ) -> DomainResult<()> {
        check_id("projectId", project_id)?;
        check_id("id", default_id)?;
        let ticket = {
            let mut map = write(&self.overrides);
            map.insert(key(project_id, default_id), value.clone());
            let path = self.ctx.layout.member_override(project_id, default_id);
            self.ctx
                .writer
                .submit(path, Op::json(Arc::new(value), None))
        };
        settle(ticket).await
    }

    async fn delete_override(&self, project_id: &str, default_id: &str) -> DomainResult<()> {
        check_id("projectId", project_id)?;
        check_id("id", default_id)?;
        let ticket = {
            let mut map = write(&self.overrides);
            map.remove(&key(project_id, default_id));
            // Unlink even when nothing was loaded: an unreadable override file is reset too.
            let path = self.ctx.layout.member_override(project_id, default_id);
            self.ctx.writer.submit(path, Op::Delete { also: None })
        };
        settle(ticket).await
    }
}
