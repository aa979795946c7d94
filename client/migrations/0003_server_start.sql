-- What the TUI does with a server when it starts: connect to it
-- (auto_connect), and log in as an account once connected (auto_login, a
-- username; its password is asked once per run and kept in memory only).
ALTER TABLE remote_servers ADD COLUMN auto_connect INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remote_servers ADD COLUMN auto_login TEXT;
