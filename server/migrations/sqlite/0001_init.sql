-- gochat server schema, SQLite flavour (keep logically identical to ../mysql).

-- Accounts. A deregistered account keeps its row (the name stays taken) with
-- pubkey and key_fingerprint set to NULL; UNIQUE allows any number of NULLs.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        VARCHAR(32) NOT NULL,
    pubkey          TEXT NULL,
    key_fingerprint BLOB NULL,
    permission      INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uq_users_username UNIQUE (username),
    CONSTRAINT uq_users_key_fingerprint UNIQUE (key_fingerprint)
);

-- Messages cached for offline recipients. AUTOINCREMENT: ids are never
-- reused, so they give the sending order and paging by id is stable.
CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    src_user   INTEGER NOT NULL REFERENCES users (id),
    dst_user   INTEGER NOT NULL REFERENCES users (id),
    stamp      INTEGER NOT NULL,
    ciphertext BLOB NOT NULL
);

CREATE INDEX ix_messages_dst_id ON messages (dst_user, id);

-- Small key/value settings (the MOTD lives here).
CREATE TABLE settings (
    name  VARCHAR(64) PRIMARY KEY NOT NULL,
    value TEXT NULL
);
