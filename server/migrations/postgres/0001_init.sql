-- gochat server schema, PostgreSQL flavour (keep logically identical to ../sqlite
-- and ../mysql). Names compare and sort bytewise (COLLATE "C"), as MySQL's
-- utf8mb4_bin does; the CHECKs hold the ranges of MySQL's column types.

-- Accounts. A deregistered account keeps its row (the name stays taken) with
-- pubkey and key_fingerprint set to NULL; UNIQUE allows any number of NULLs.
CREATE TABLE users (
    id              BIGINT GENERATED ALWAYS AS IDENTITY,
    username        VARCHAR(32) COLLATE "C" NOT NULL,
    pubkey          TEXT NULL,
    key_fingerprint BYTEA NULL,
    permission      SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    CONSTRAINT uq_users_username UNIQUE (username),
    CONSTRAINT uq_users_key_fingerprint UNIQUE (key_fingerprint),
    CONSTRAINT ck_users_permission CHECK (permission BETWEEN 0 AND 255)
);

-- Messages cached for offline recipients. Identity ids are never reused, so
-- they give the sending order and paging by id is stable.
CREATE TABLE messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY,
    src_user   BIGINT NOT NULL,
    dst_user   BIGINT NOT NULL,
    stamp      BIGINT NOT NULL,
    ciphertext BYTEA NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_messages_src FOREIGN KEY (src_user) REFERENCES users (id),
    CONSTRAINT fk_messages_dst FOREIGN KEY (dst_user) REFERENCES users (id),
    CONSTRAINT ck_messages_ciphertext CHECK (octet_length(ciphertext) <= 2048)
);

CREATE INDEX ix_messages_dst_id ON messages (dst_user, id);

-- Small key/value settings (the MOTD lives here).
CREATE TABLE settings (
    name  VARCHAR(64) COLLATE "C" NOT NULL,
    value TEXT NULL,
    PRIMARY KEY (name)
);
