-- 0002: row-level security (seed 000 §2.10, spec §6.3).
--
-- The policies read the caller's user id from the JWT `sub` claim through
-- maestro_auth_uid(), which works on plain PostgreSQL (the caller sets
-- `request.jwt.claim.sub`) and on Supabase/PostgREST (which sets `request.jwt.claims`).
-- The server connects as the table owner and therefore bypasses RLS (no FORCE ROW LEVEL
-- SECURITY): the policies apply to roles that access the tables directly with a user JWT.
-- Idempotent: CREATE OR REPLACE FUNCTION, DROP POLICY IF EXISTS before CREATE POLICY.

CREATE OR REPLACE FUNCTION maestro_auth_uid() RETURNS UUID
LANGUAGE sql STABLE
AS $$
    SELECT nullif(
        coalesce(
            nullif(current_setting('request.jwt.claim.sub', true), ''),
            (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        ),
        ''
    )::uuid
$$;

-- SECURITY DEFINER: runs as the owner (who bypasses RLS), so the policies below can look at
-- projects / project_members without recursing into their own policies. The search_path is
-- pinned to the schema the migration ran in.
CREATE OR REPLACE FUNCTION is_project_member(p_project_id TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
    SELECT EXISTS (
        SELECT 1 FROM projects WHERE id = p_project_id AND owner_id = maestro_auth_uid()
        UNION ALL
        SELECT 1 FROM project_members
        WHERE project_id = p_project_id AND user_id = maestro_auth_uid()
    )
$$;

CREATE OR REPLACE FUNCTION is_project_owner(p_project_id TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
    SELECT EXISTS (
        SELECT 1 FROM projects WHERE id = p_project_id AND owner_id = maestro_auth_uid()
    )
$$;

-- Projects: visible to the owner and members; created with owner = caller; changed and
-- deleted by the owner only.
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS projects_select ON projects;
CREATE POLICY projects_select ON projects FOR SELECT
    USING (owner_id = maestro_auth_uid() OR is_project_member(id));
DROP POLICY IF EXISTS projects_insert ON projects;
CREATE POLICY projects_insert ON projects FOR INSERT
    WITH CHECK (owner_id = maestro_auth_uid());
DROP POLICY IF EXISTS projects_update ON projects;
CREATE POLICY projects_update ON projects FOR UPDATE
    USING (owner_id = maestro_auth_uid())
    WITH CHECK (owner_id = maestro_auth_uid());
DROP POLICY IF EXISTS projects_delete ON projects;
CREATE POLICY projects_delete ON projects FOR DELETE
    USING (owner_id = maestro_auth_uid());

-- Project-scoped tables: members of the project only, for reads and writes.
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tasks_members ON tasks;
CREATE POLICY tasks_members ON tasks FOR ALL
    USING (is_project_member(project_id))
    WITH CHECK (is_project_member(project_id));

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS sessions_members ON sessions;
CREATE POLICY sessions_members ON sessions FOR ALL
    USING (is_project_member(project_id))
    WITH CHECK (is_project_member(project_id));

ALTER TABLE mail ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS mail_members ON mail;
CREATE POLICY mail_members ON mail FOR ALL
    USING (is_project_member(project_id))
    WITH CHECK (is_project_member(project_id));

ALTER TABLE team_members ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS team_members_members ON team_members;
CREATE POLICY team_members_members ON team_members FOR ALL
    USING (is_project_member(project_id))
    WITH CHECK (is_project_member(project_id));

ALTER TABLE orderings ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS orderings_members ON orderings;
CREATE POLICY orderings_members ON orderings FOR ALL
    USING (is_project_member(project_id))
    WITH CHECK (is_project_member(project_id));

-- Memberships: members see them, owners manage them.
ALTER TABLE project_members ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS project_members_select ON project_members;
CREATE POLICY project_members_select ON project_members FOR SELECT
    USING (is_project_member(project_id));
DROP POLICY IF EXISTS project_members_manage ON project_members;
CREATE POLICY project_members_manage ON project_members FOR ALL
    USING (is_project_owner(project_id))
    WITH CHECK (is_project_owner(project_id));

-- Self-only tables.
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS profiles_self ON profiles;
CREATE POLICY profiles_self ON profiles FOR ALL
    USING (id = maestro_auth_uid())
    WITH CHECK (id = maestro_auth_uid());

ALTER TABLE devices ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS devices_self ON devices;
CREATE POLICY devices_self ON devices FOR ALL
    USING (user_id = maestro_auth_uid())
    WITH CHECK (user_id = maestro_auth_uid());

ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS api_tokens_self ON api_tokens;
CREATE POLICY api_tokens_self ON api_tokens FOR ALL
    USING (user_id = maestro_auth_uid())
    WITH CHECK (user_id = maestro_auth_uid());
