-- Sessions per project, for the share of sessions an issue affects
-- (severity). One row per (project, sid), counted in projects.sessions.
CREATE TABLE project_sessions (
    project TEXT NOT NULL,
    sid     TEXT NOT NULL,
    PRIMARY KEY (project, sid)
) WITHOUT ROWID;

ALTER TABLE projects ADD COLUMN sessions INTEGER NOT NULL DEFAULT 0;

INSERT OR IGNORE INTO project_sessions (project, sid) SELECT DISTINCT project, sid FROM sessions;
UPDATE projects SET sessions = (SELECT COUNT(*) FROM project_sessions p WHERE p.project = projects.name);
