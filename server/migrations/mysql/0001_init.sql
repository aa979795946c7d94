-- gochat server schema, MySQL/MariaDB flavour (keep logically identical to ../sqlite).
-- utf8mb4 with a binary collation: names compare exactly (callers lowercase them).

-- Accounts. A deregistered account keeps its row (the name stays taken) with
-- pubkey and key_fingerprint set to NULL; UNIQUE allows any number of NULLs.
CREATE TABLE users (
    id              BIGINT NOT NULL AUTO_INCREMENT,
    username        VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    pubkey          TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    key_fingerprint BINARY(32) NULL,
    permission      TINYINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    CONSTRAINT uq_users_username UNIQUE (username),
    CONSTRAINT uq_users_key_fingerprint UNIQUE (key_fingerprint)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Messages cached for offline recipients; ids give the sending order.
CREATE TABLE messages (
    id         BIGINT NOT NULL AUTO_INCREMENT,
    src_user   BIGINT NOT NULL,
    dst_user   BIGINT NOT NULL,
    stamp      BIGINT NOT NULL,
    ciphertext VARBINARY(2048) NOT NULL,
    PRIMARY KEY (id),
    INDEX ix_messages_dst_id (dst_user, id),
    CONSTRAINT fk_messages_src FOREIGN KEY (src_user) REFERENCES users (id),
    CONSTRAINT fk_messages_dst FOREIGN KEY (dst_user) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Small key/value settings (the MOTD lives here).
CREATE TABLE settings (
    name  VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    value TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    PRIMARY KEY (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
