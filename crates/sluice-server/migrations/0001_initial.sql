-- Sluice's schema, version 1. Portable SQL: the same file runs on SQLite and PostgreSQL through sqlx::Any.
-- Ids are UUID v7 strings, JSON documents are TEXT, timestamps are RFC 3339 TEXT, booleans are BIGINT 0/1.

CREATE TABLE connector (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE program (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    code TEXT NOT NULL,
    config TEXT NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_detail TEXT,
    schema_json TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE pipeline (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    program_id TEXT REFERENCES program (id),
    config TEXT NOT NULL,
    version BIGINT NOT NULL,
    desired_status TEXT NOT NULL,
    current_status TEXT NOT NULL,
    status_since TEXT NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL
);

-- Deleting a connector detaches it from every pipeline; deleting a pipeline drops its attachments.
CREATE TABLE attached_connector (
    pipeline_id TEXT NOT NULL REFERENCES pipeline (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    connector_id TEXT NOT NULL REFERENCES connector (id) ON DELETE CASCADE,
    is_input BIGINT NOT NULL,
    relation_name TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, name)
);

CREATE TABLE api_key (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL
);
