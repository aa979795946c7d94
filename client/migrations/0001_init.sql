-- gochat client store, schema 1 (SQLite).
--
-- Table names differ from the original Go client's GORM tables (servers,
-- users, local_users, external_users, messages) so that a database written by
-- the original can be migrated in place, inside one transaction, while its
-- tables still exist (see src/store/legacy.rs).
--
-- No foreign keys: deleting a server must leave its accounts, contacts and
-- history behind as "dangling" rows that can be recovered.

-- Servers the client knows. AUTOINCREMENT: an id is never handed out twice,
-- so a new server never silently adopts the accounts of a deleted one.
CREATE TABLE remote_servers (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name    TEXT    NOT NULL,
    address TEXT    NOT NULL,
    port    INTEGER NOT NULL,
    tls     INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uq_remote_servers_name UNIQUE (name),
    CONSTRAINT uq_remote_servers_endpoint UNIQUE (address, port)
);

-- Local accounts. sealed_key is the private key PEM sealed with the password
-- (nonce(12) | AES-256-GCM ciphertext+tag | scrypt salt(32)); never cleartext.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id     INTEGER NOT NULL,
    username      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    sealed_key    BLOB    NOT NULL,
    CONSTRAINT uq_accounts_user UNIQUE (server_id, username)
);

-- Public keys of other users, as the server sent them in REQ replies.
CREATE TABLE contacts (
    server_id  INTEGER NOT NULL,
    username   TEXT    NOT NULL,
    pubkey_pem TEXT    NOT NULL,
    PRIMARY KEY (server_id, username)
) WITHOUT ROWID;

-- Conversation history, in PLAINTEXT (as the original client keeps it):
-- stamp is the sender's Unix time in seconds. AUTOINCREMENT ids give the
-- arrival order and keep paging by id stable.
CREATE TABLE chat_messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id INTEGER NOT NULL,
    account   TEXT    NOT NULL,
    peer      TEXT    NOT NULL,
    outgoing  INTEGER NOT NULL,
    stamp     INTEGER NOT NULL,
    text      TEXT    NOT NULL
);

-- One conversation's page, newest first, is a range scan of this index.
CREATE INDEX ix_chat_messages_conversation ON chat_messages (server_id, account, peer, id);
