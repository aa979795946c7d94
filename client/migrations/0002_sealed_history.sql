-- History sealed at rest: a message's text is AES-256-GCM sealed with a key
-- derived from its account's password (see src/keys.rs). A sealed row keeps
-- an empty `text`; rows with `sealed` NULL are plaintext (written before
-- this migration, or taken over from the original client) and are sealed at
-- the account's next login.
ALTER TABLE chat_messages ADD COLUMN sealed BLOB;
