-- 0001: tables and indexes (seed 000 §2, adapted per spec §6.3).
--
-- Runs with search_path = the target schema (the runner sets it), so every name below is
-- created there. Idempotent: CREATE ... IF NOT EXISTS everywhere.
--
-- Conventions:
--   * timestamps are BIGINT epoch milliseconds (team members: ISO-8601 TEXT, as the entity);
--   * a nullable column means "absent in the JSON entity" (NULL <-> field not present /
--     `null`), so a load returns exactly what was stored;
--   * `extra` holds the unknown JSON keys of an entity (spec §1.3), never NULL;
--   * domain tables carry `project_id TEXT NOT NULL` WITHOUT a foreign key (see README.md).

-- Accounts ---------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS profiles (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT,
    avatar_url    TEXT,
    plan          TEXT NOT NULL DEFAULT 'free'
                  CHECK (plan IN ('free', 'pro', 'team', 'enterprise')),
    settings      JSONB NOT NULL DEFAULT '{}',
    -- Built-in accounts (spec §8); NULL for accounts authenticated elsewhere.
    password_hash TEXT NULL,
    created_at    BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::BIGINT,
    updated_at    BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::BIGINT
);

-- Projects ---------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS projects (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NULL,
    working_dir  TEXT NOT NULL DEFAULT '',
    -- NULL in local mode (no accounts).
    owner_id     UUID NULL REFERENCES profiles (id) ON DELETE SET NULL,
    settings     JSONB NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    extra        JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS idx_projects_owner ON projects (owner_id);
CREATE INDEX IF NOT EXISTS idx_projects_order ON projects (created_at, id COLLATE "C");

CREATE TABLE IF NOT EXISTS project_members (
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id     UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    role        TEXT NOT NULL DEFAULT 'member'
                CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    invited_at  BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::BIGINT,
    PRIMARY KEY (project_id, user_id)
);

CREATE INDEX IF NOT EXISTS idx_project_members_user ON project_members (user_id);

-- Tasks ------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS tasks (
    id                     TEXT PRIMARY KEY,
    project_id             TEXT NOT NULL,
    -- No FK: parents may be gone in imported data; the domain owns the hierarchy.
    parent_id              TEXT NULL,
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    status                 TEXT NOT NULL DEFAULT 'todo'
                           CHECK (status IN ('todo', 'in_progress', 'in_review', 'completed',
                                             'cancelled', 'blocked', 'archived')),
    priority               TEXT NOT NULL DEFAULT 'medium'
                           CHECK (priority IN ('low', 'medium', 'high')),
    -- Record<sessionId, working|blocked|completed|failed|skipped>; NULL = absent.
    task_session_statuses  JSONB NULL
                           CHECK (task_session_statuses IS NULL
                                  OR jsonb_typeof(task_session_statuses) = 'object'),
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    started_at             BIGINT NULL,
    completed_at           BIGINT NULL,
    initial_prompt         TEXT NOT NULL DEFAULT '',
    session_ids            TEXT[] NOT NULL DEFAULT '{}',
    skill_ids              TEXT[] NOT NULL DEFAULT '{}',
    agent_ids              TEXT[] NOT NULL DEFAULT '{}',
    dependencies           TEXT[] NOT NULL DEFAULT '{}',
    reference_task_ids     TEXT[] NULL,
    pinned                 BOOLEAN NULL,
    team_member_id         TEXT NULL,
    team_member_ids        TEXT[] NULL,
    extra                  JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS idx_tasks_project ON tasks (project_id, created_at, id COLLATE "C");
CREATE INDEX IF NOT EXISTS idx_tasks_parent ON tasks (parent_id);
CREATE INDEX IF NOT EXISTS idx_tasks_status ON tasks (project_id, status);
CREATE INDEX IF NOT EXISTS idx_tasks_session ON tasks USING GIN (session_ids);
CREATE INDEX IF NOT EXISTS idx_tasks_order ON tasks (created_at, id COLLATE "C");

-- Sessions ---------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS sessions (
    id                     TEXT PRIMARY KEY,
    project_id             TEXT NOT NULL,
    task_ids               TEXT[] NOT NULL DEFAULT '{}',
    name                   TEXT NOT NULL DEFAULT '',
    agent_id               TEXT NULL,
    env                    JSONB NOT NULL DEFAULT '{}',
    status                 TEXT NOT NULL DEFAULT 'spawning'
                           CHECK (status IN ('spawning', 'idle', 'working', 'completed',
                                             'failed', 'stopped')),
    started_at             BIGINT NOT NULL,
    last_activity          BIGINT NOT NULL,
    completed_at           BIGINT NULL,
    hostname               TEXT NOT NULL DEFAULT '',
    platform               TEXT NOT NULL DEFAULT '',
    events                 JSONB NOT NULL DEFAULT '[]'
                           CHECK (jsonb_typeof(events) = 'array'),
    timeline               JSONB NOT NULL DEFAULT '[]'
                           CHECK (jsonb_typeof(timeline) = 'array'),
    docs                   JSONB NOT NULL DEFAULT '[]'
                           CHECK (jsonb_typeof(docs) = 'array'),
    metadata               JSONB NULL,
    needs_input            JSONB NULL,
    team_member_id         TEXT NULL,
    team_member_snapshot   JSONB NULL,
    team_member_ids        TEXT[] NULL,
    team_member_snapshots  JSONB NULL,
    parent_session_id      TEXT NULL,
    extra                  JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS idx_sessions_project ON sessions (project_id, started_at, id COLLATE "C");
CREATE INDEX IF NOT EXISTS idx_sessions_status ON sessions (project_id, status);
CREATE INDEX IF NOT EXISTS idx_sessions_task ON sessions USING GIN (task_ids);
CREATE INDEX IF NOT EXISTS idx_sessions_parent ON sessions (parent_session_id);
CREATE INDEX IF NOT EXISTS idx_sessions_order ON sessions (started_at, id COLLATE "C");

-- Mail -------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS mail (
    id                TEXT PRIMARY KEY,
    project_id        TEXT NOT NULL,
    from_session_id   TEXT NOT NULL,
    -- NULL = broadcast to the project.
    to_session_id     TEXT NULL,
    reply_to_mail_id  TEXT NULL,
    thread_id         TEXT NOT NULL DEFAULT '',
    type              TEXT NOT NULL DEFAULT 'directive'
                      CHECK (type IN ('assignment', 'status_update', 'query', 'response',
                                      'directive', 'notification')),
    subject           TEXT NOT NULL DEFAULT '',
    body              JSONB NOT NULL DEFAULT '{}',
    priority          TEXT NULL CHECK (priority IN ('critical', 'high', 'normal', 'low')),
    created_at        BIGINT NOT NULL,
    read_at           BIGINT NULL,
    extra             JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS idx_mail_inbox ON mail (to_session_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_mail_project ON mail (project_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_mail_broadcast ON mail (project_id) WHERE to_session_id IS NULL;
CREATE INDEX IF NOT EXISTS idx_mail_unread ON mail (to_session_id, created_at, id COLLATE "C")
    WHERE read_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_mail_thread ON mail (thread_id, created_at, id COLLATE "C");

-- Team members -----------------------------------------------------------------------------
--
-- Two kinds of rows share the table (see README.md):
--   * custom members: `override IS NULL`, every field in its column;
--   * overrides of the five computed default members: `is_default = true` and the override
--     object in `override`; the other columns keep their defaults.

CREATE TABLE IF NOT EXISTS team_members (
    project_id            TEXT NOT NULL,
    id                    TEXT NOT NULL,
    name                  TEXT NOT NULL DEFAULT '',
    role                  TEXT NOT NULL DEFAULT '',
    identity              TEXT NOT NULL DEFAULT '',
    avatar                TEXT NOT NULL DEFAULT '',
    model                 TEXT NULL,
    agent_tool            TEXT NULL CHECK (agent_tool IN ('claude-code', 'codex', 'gemini')),
    mode                  TEXT NULL CHECK (mode IN ('execute', 'coordinate')),
    permission_mode       TEXT NULL
                          CHECK (permission_mode IN ('acceptEdits', 'interactive', 'readOnly',
                                                     'bypassPermissions')),
    skill_ids             TEXT[] NULL,
    is_default            BOOLEAN NOT NULL DEFAULT FALSE,
    status                TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    capabilities          JSONB NULL,
    command_permissions   JSONB NULL,
    workflow_template_id  TEXT NULL,
    custom_workflow       TEXT NULL,
    memory                TEXT[] NULL,
    created_at            TEXT NOT NULL DEFAULT '',
    updated_at            TEXT NOT NULL DEFAULT '',
    override              JSONB NULL
                          CHECK (override IS NULL
                                 OR (is_default AND jsonb_typeof(override) = 'object')),
    extra                 JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (project_id, id)
);

CREATE INDEX IF NOT EXISTS idx_team_members_default ON team_members (project_id, is_default);

-- Orderings --------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS orderings (
    id           TEXT PRIMARY KEY DEFAULT gen_random_uuid()::TEXT,
    project_id   TEXT NOT NULL,
    entity_type  TEXT NOT NULL CHECK (entity_type IN ('task', 'session')),
    ordered_ids  TEXT[] NOT NULL DEFAULT '{}',
    updated_at   BIGINT NOT NULL,
    UNIQUE (project_id, entity_type)
);

-- Devices and API tokens (spec §8) ---------------------------------------------------------

CREATE TABLE IF NOT EXISTS devices (
    id            TEXT PRIMARY KEY DEFAULT gen_random_uuid()::TEXT,
    user_id       UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    name          TEXT NOT NULL DEFAULT '',
    type          TEXT NOT NULL CHECK (type IN ('mobile', 'desktop', 'web', 'cli')),
    platform      TEXT NOT NULL DEFAULT '',
    push_token    TEXT NULL,
    socket_id     TEXT NULL,
    last_seen_at  BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::BIGINT,
    created_at    BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::BIGINT,
    metadata      JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS idx_devices_user ON devices (user_id);
CREATE INDEX IF NOT EXISTS idx_devices_push ON devices (push_token) WHERE push_token IS NOT NULL;

CREATE TABLE IF NOT EXISTS api_tokens (
    id            TEXT PRIMARY KEY DEFAULT gen_random_uuid()::TEXT,
    user_id       UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    -- Token scoped to one project; NULL = every project of the user.
    project_id    TEXT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name          TEXT NOT NULL DEFAULT '',
    -- Only a hash of the secret is stored.
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::BIGINT,
    last_used_at  BIGINT NULL,
    expires_at    BIGINT NULL,
    revoked_at    BIGINT NULL
);

CREATE INDEX IF NOT EXISTS idx_api_tokens_user ON api_tokens (user_id);
