-- Team members written by the 653bc6a `maestro` CLI and server (issue 13 item 1): the mode
-- vocabulary worker | coordinator | coordinated-worker | coordinated-coordinator beside the
-- legacy execute | coordinate, and the agent tool hermes. The CHECK constraints of 0001
-- (named by PostgreSQL `team_members_<column>_check`) are replaced by wider ones; every row
-- they admitted is still admitted. Idempotent: each constraint is dropped if present, then
-- added.

ALTER TABLE team_members DROP CONSTRAINT IF EXISTS team_members_mode_check;
ALTER TABLE team_members ADD CONSTRAINT team_members_mode_check
    CHECK (mode IN ('worker', 'coordinator', 'coordinated-worker', 'coordinated-coordinator',
                    'execute', 'coordinate'));

ALTER TABLE team_members DROP CONSTRAINT IF EXISTS team_members_agent_tool_check;
ALTER TABLE team_members ADD CONSTRAINT team_members_agent_tool_check
    CHECK (agent_tool IN ('claude-code', 'codex', 'gemini', 'hermes'));
