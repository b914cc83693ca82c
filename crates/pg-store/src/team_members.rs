//! [`TeamMemberRepository`] on the `team_members` table, `PRIMARY KEY (project_id, id)`.
//!
//! Two kinds of rows (see `migrations/README.md`):
//! - custom members: `override IS NULL`, every entity field in its column;
//! - overrides of the computed default members (`tm_{projectId}_{suffix}`):
//!   `is_default = true` and the override object in the `override` JSONB column; the other
//!   columns keep their defaults. Overrides never show up as custom members.
//!
//! Global members (newer reference, 653bc6a) are custom rows with `extra.scope = "global"`;
//! they keep the `project_id` of the project they were created in, and the repository's
//! *home* of a row (`__global__` or its project, see [`TeamMember::home`]) is computed in SQL.

use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use maestro_domain::entities::{
    AgentMode, AgentTool, GLOBAL_MEMBERS, MemberScope, PermissionMode, TeamMember,
    TeamMemberStatus, member_keys,
};
use maestro_domain::error::{DomainError, DomainResult};
use maestro_domain::ports::TeamMemberRepository;
use serde_json::{Map, Value};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::db_err;
use crate::pool::get;
use crate::rows::{
    Known, col, col_list, extra_from_json, extra_to_json, from_opt_json, parse_enum,
    parse_opt_enum, to_opt_json, upsert_sql,
};

const T: &str = "team_members";

/// Columns of a custom member, in parameter order (`project_id`, `id` first). The upsert
/// also clears `override`, so a row is never both.
pub(crate) const COLS: &[&str] = &[
    "project_id",
    "id",
    "name",
    "role",
    "identity",
    "avatar",
    "model",
    "agent_tool",
    "mode",
    "permission_mode",
    "skill_ids",
    "is_default",
    "status",
    "capabilities",
    "command_permissions",
    "workflow_template_id",
    "custom_workflow",
    "memory",
    "created_at",
    "updated_at",
    "extra",
];

static SELECT: LazyLock<String> = LazyLock::new(|| format!("SELECT {} FROM {T}", col_list(COLS)));

/// The home of a custom member row ([`TeamMember::home`]): `__global__` for a global member
/// (`scope` is kept in `extra`, under its wire name), else its `project_id`. A global member
/// keeps its own `project_id` (the project it was created in), so a scope change updates the
/// row in place.
static HOME: LazyLock<String> = LazyLock::new(|| {
    format!(
        "(CASE WHEN extra->>'{scope}' = '{global}' THEN '{GLOBAL_MEMBERS}' ELSE project_id END)",
        scope = member_keys::SCOPE,
        global = MemberScope::Global.as_str(),
    )
});

/// Custom members whose home is `$1` (`project_id = $1` or global first, for the index).
static IN_HOME: LazyLock<String> = LazyLock::new(|| {
    format!(
        "override IS NULL AND (project_id = $1 OR extra->>'{scope}' = '{global}') AND {home} = $1",
        scope = member_keys::SCOPE,
        global = MemberScope::Global.as_str(),
        home = *HOME,
    )
});
pub(crate) static UPSERT_CUSTOM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}, override = NULL",
        upsert_sql(T, COLS, &["project_id", "id"])
    )
});
pub(crate) const UPSERT_OVERRIDE: &str = "INSERT INTO team_members (project_id, id, is_default, override) \
     VALUES ($1, $2, TRUE, $3) \
     ON CONFLICT (project_id, id) DO UPDATE SET is_default = TRUE, override = EXCLUDED.override";

/// Owned values of the columns that need a conversion.
pub(crate) struct Params {
    agent_tool: Option<&'static str>,
    mode: Option<&'static str>,
    permission_mode: Option<&'static str>,
    status: &'static str,
    capabilities: Option<Value>,
    command_permissions: Option<Value>,
    extra: Value,
}

/// The texts of the CHECKed enum columns.
pub(crate) struct EnumTexts {
    agent_tool: Option<&'static str>,
    mode: Option<&'static str>,
    permission_mode: Option<&'static str>,
    status: &'static str,
}

/// [`EnumTexts`] of `m`; `Validation` naming every value PostgreSQL cannot hold.
pub(crate) fn enum_texts(m: &TeamMember) -> DomainResult<EnumTexts> {
    let mut k = Known::new(T, &m.odd);
    let texts = EnumTexts {
        agent_tool: k.opt("agent_tool", m.agent_tool.as_ref()),
        mode: k.opt("mode", m.mode.as_ref()),
        permission_mode: k.opt("permission_mode", m.permission_mode.as_ref()),
        status: k.one("status", &m.status),
    };
    k.finish().map(|()| texts)
}

impl Params {
    pub(crate) fn new(m: &TeamMember) -> DomainResult<Self> {
        let EnumTexts {
            agent_tool,
            mode,
            permission_mode,
            status,
        } = enum_texts(m)?;
        Ok(Self {
            agent_tool,
            mode,
            permission_mode,
            status,
            capabilities: to_opt_json("capabilities", m.capabilities.as_ref())?,
            command_permissions: to_opt_json("commandPermissions", m.command_permissions.as_ref())?,
            extra: extra_to_json(&m.extra),
        })
    }

    /// Parameters in [`COLS`] order.
    pub(crate) fn refs<'a>(&'a self, m: &'a TeamMember) -> [&'a (dyn ToSql + Sync); 21] {
        [
            &m.project_id,
            &m.id,
            &m.name,
            &m.role,
            &m.identity,
            &m.avatar,
            &m.model,
            &self.agent_tool,
            &self.mode,
            &self.permission_mode,
            &m.skill_ids,
            &m.is_default,
            &self.status,
            &self.capabilities,
            &self.command_permissions,
            &m.workflow_template_id,
            &m.custom_workflow,
            &m.memory,
            &m.created_at,
            &m.updated_at,
            &self.extra,
        ]
    }
}

fn decode(row: &Row) -> DomainResult<TeamMember> {
    let status: String = col(row, T, "status")?;
    Ok(TeamMember {
        id: col(row, T, "id")?,
        project_id: col(row, T, "project_id")?,
        name: col(row, T, "name")?,
        role: col(row, T, "role")?,
        identity: col(row, T, "identity")?,
        avatar: col(row, T, "avatar")?,
        model: col(row, T, "model")?,
        agent_tool: parse_opt_enum(
            T,
            "agent_tool",
            col(row, T, "agent_tool")?,
            AgentTool::parse,
        )?
        .map(Into::into),
        mode: parse_opt_enum(T, "mode", col(row, T, "mode")?, AgentMode::parse)?.map(Into::into),
        permission_mode: parse_opt_enum(
            T,
            "permission_mode",
            col(row, T, "permission_mode")?,
            PermissionMode::parse,
        )?
        .map(Into::into),
        skill_ids: col(row, T, "skill_ids")?,
        is_default: col(row, T, "is_default")?,
        status: parse_enum(T, "status", &status, TeamMemberStatus::parse)?.into(),
        capabilities: from_opt_json(T, "capabilities", col(row, T, "capabilities")?)?,
        command_permissions: from_opt_json(
            T,
            "command_permissions",
            col(row, T, "command_permissions")?,
        )?,
        workflow_template_id: col(row, T, "workflow_template_id")?,
        custom_workflow: col(row, T, "custom_workflow")?,
        memory: col(row, T, "memory")?,
        created_at: col(row, T, "created_at")?,
        updated_at: col(row, T, "updated_at")?,
        extra: extra_from_json(col(row, T, "extra")?),
        odd: Default::default(),
    })
}

/// Team members on PostgreSQL.
#[derive(Clone)]
pub struct PgTeamMemberRepository {
    pool: Pool,
}

impl PgTeamMemberRepository {
    /// A repository on `pool`.
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl TeamMemberRepository for PgTeamMemberRepository {
    async fn list_custom(&self, home: &str) -> DomainResult<Vec<TeamMember>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&format!(
                "{} WHERE {} ORDER BY created_at COLLATE \"C\", id COLLATE \"C\"",
                *SELECT, *IN_HOME
            ))
            .await
            .map_err(db_err)?;
        let rows = client.query(&stmt, &[&home]).await.map_err(db_err)?;
        rows.iter().map(decode).collect()
    }

    async fn get_custom(&self, home: &str, id: &str) -> DomainResult<Option<TeamMember>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&format!("{} WHERE {} AND id = $2", *SELECT, *IN_HOME))
            .await
            .map_err(db_err)?;
        let row = client
            .query_opt(&stmt, &[&home, &id])
            .await
            .map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    }

    async fn find_custom(&self, id: &str) -> DomainResult<Option<TeamMember>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&format!(
                "{} WHERE id = $1 AND override IS NULL \
                 ORDER BY {} = '{GLOBAL_MEMBERS}' DESC, project_id COLLATE \"C\" LIMIT 1",
                *SELECT, *HOME
            ))
            .await
            .map_err(db_err)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    }

    async fn put_custom(&self, member: TeamMember) -> DomainResult<TeamMember> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&UPSERT_CUSTOM)
            .await
            .map_err(db_err)?;
        let p = Params::new(&member)?;
        client
            .execute(&stmt, &p.refs(&member))
            .await
            .map_err(db_err)?;
        Ok(member)
    }

    async fn delete_custom(&self, home: &str, id: &str) -> DomainResult<()> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&format!("DELETE FROM {T} WHERE {} AND id = $2", *IN_HOME))
            .await
            .map_err(db_err)?;
        match client.execute(&stmt, &[&home, &id]).await.map_err(db_err)? {
            0 => Err(DomainError::not_found("TeamMember", id)),
            _ => Ok(()),
        }
    }

    async fn get_override(
        &self,
        project_id: &str,
        default_id: &str,
    ) -> DomainResult<Option<Map<String, Value>>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(
                "SELECT override FROM team_members \
                 WHERE project_id = $1 AND id = $2 AND override IS NOT NULL",
            )
            .await
            .map_err(db_err)?;
        let row = client
            .query_opt(&stmt, &[&project_id, &default_id])
            .await
            .map_err(db_err)?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(extra_from_json(col(&row, T, "override")?))),
        }
    }

    async fn put_override(
        &self,
        project_id: &str,
        default_id: &str,
        value: Map<String, Value>,
    ) -> DomainResult<()> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(UPSERT_OVERRIDE)
            .await
            .map_err(db_err)?;
        let value = Value::Object(value);
        client
            .execute(&stmt, &[&project_id, &default_id, &value])
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_override(&self, project_id: &str, default_id: &str) -> DomainResult<()> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(
                "DELETE FROM team_members \
                 WHERE project_id = $1 AND id = $2 AND override IS NOT NULL",
            )
            .await
            .map_err(db_err)?;
        client
            .execute(&stmt, &[&project_id, &default_id])
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
