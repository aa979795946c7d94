//! Local account operations that need no connection: exporting a private
//! key, importing one, and recovering the accounts of deleted servers.

use std::path::{Path, PathBuf};

use gochat_proto::crypto;

use super::Service;
use super::connection::parse_username;
use super::exec::off_thread;
use super::login::check_password;
use crate::keys;
use crate::types::{Account, ClientError, ServerRecord};

impl Service {
    /// Writes the private key of the local account `username` of `server`,
    /// in clear (PKCS#1 PEM), to `<dir>/<username>.priv` with mode 0600,
    /// after checking `password`. `dir` is created if missing. Needs no
    /// connection (the original required one).
    pub async fn export_key(
        &self,
        server: &ServerRecord,
        username: &str,
        password: &str,
        dir: &Path,
    ) -> Result<PathBuf, ClientError> {
        let name = parse_username(username)?;
        let account = self
            .store()
            .account(server.id, name.as_str())
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("local user {name}")))?;
        let pw = password.to_owned();
        let path = dir.join(format!("{name}.priv"));
        off_thread(move || {
            if !keys::verify_password(&pw, &account.password_hash) {
                return Err(ClientError::WrongPassword);
            }
            let pem = keys::open_private_key(&account.sealed_key, &pw)?;
            write_private(&path, pem.as_bytes())?;
            Ok(path)
        })
        .await?
    }

    /// Adds the local account `username` (lowercased) of `server` with the
    /// private key `pem` (PKCS#1 PEM, as exported), sealed with `password`.
    /// Nothing is sent to the server: the key must be the one the server has
    /// for that user.
    pub async fn import_key(
        &self,
        server: &ServerRecord,
        username: &str,
        pem: &str,
        password: &str,
    ) -> Result<(), ClientError> {
        let name = parse_username(username)?;
        check_password(password)?;
        if self
            .store()
            .account(server.id, name.as_str())
            .await?
            .is_some()
        {
            return Err(ClientError::Exists(format!("local user {name}")));
        }
        let pem = pem.to_owned();
        let pw = password.to_owned();
        let (hash, sealed) = off_thread(move || {
            let key = crypto::private_key_from_pem(pem.as_bytes())
                .map_err(|e| ClientError::Crypto(format!("not a usable private key: {e}")))?;
            let clean =
                crypto::private_key_to_pem(&key).map_err(|e| ClientError::Crypto(e.to_string()))?;
            let hash = keys::hash_password(&pw)?;
            let sealed = keys::seal_private_key(&clean, &pw)?;
            Ok::<_, ClientError>((hash, sealed))
        })
        .await??;
        self.store()
            .add_account(server.id, name.as_str(), &hash, &sealed)
            .await?;
        Ok(())
    }

    /// Recovers the dangling local accounts named `username` (accounts of
    /// deleted servers): `password` is tried against each, and for each match
    /// the private key goes to `<dir>/<username>.priv` and the conversations
    /// to `<dir>/<username>.msgs` (the original's export format), both mode
    /// 0600. When several accounts match, the files are named
    /// `<username>-<server id>.*`. With `cleanup` the recovered accounts are
    /// deleted afterwards. Returns the files written.
    pub async fn recover(
        &self,
        username: &str,
        password: &str,
        dir: &Path,
        cleanup: bool,
    ) -> Result<Vec<PathBuf>, ClientError> {
        let name = parse_username(username)?;
        let candidates: Vec<Account> = self
            .store()
            .dangling_accounts()
            .await?
            .into_iter()
            .filter(|a| a.username == name.as_str())
            .collect();
        if candidates.is_empty() {
            return Err(ClientError::NotFound(format!(
                "local user {name} of a deleted server"
            )));
        }
        let pw = password.to_owned();
        let opened: Vec<(Account, String, keys::HistoryKey)> = off_thread(move || {
            candidates
                .into_iter()
                .filter(|a| keys::verify_password(&pw, &a.password_hash))
                .filter_map(|a| match keys::open_account_secrets(&a.sealed_key, &pw) {
                    Ok((pem, history)) => Some((a, pem, history)),
                    Err(e) => {
                        tracing::warn!(
                            "cannot open the key of {} (server #{}): {e}",
                            a.username,
                            a.server_id
                        );
                        None
                    }
                })
                .collect()
        })
        .await?;
        if opened.is_empty() {
            return Err(ClientError::WrongPassword);
        }
        let several = opened.len() > 1;
        let mut written = Vec::new();
        for (account, pem, history) in opened {
            let stem = if several {
                format!("{name}-{}", account.server_id)
            } else {
                name.as_str().to_owned()
            };
            let msgs = self
                .store()
                .conversation_export(account.server_id, &account.username, Some(&history))
                .await?;
            let priv_path = dir.join(format!("{stem}.priv"));
            let msgs_path = dir.join(format!("{stem}.msgs"));
            let paths = (priv_path.clone(), msgs_path.clone());
            off_thread(move || {
                write_private(&paths.0, pem.as_bytes())?;
                write_private(&paths.1, msgs.as_bytes())
            })
            .await??;
            written.push(priv_path);
            written.push(msgs_path);
            if cleanup {
                self.store()
                    .delete_account(account.server_id, &account.username)
                    .await?;
            }
        }
        Ok(written)
    }
}

/// Writes `bytes` to `path` readable by the owner only (mode 0600 on Unix),
/// creating the folder if needed and replacing an existing file.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    use std::io::Write;
    let fail = |e: std::io::Error| ClientError::Io(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path).map_err(fail)?;
        // An existing file keeps its mode on open: fix it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
        file.write_all(bytes).map_err(fail)?;
        file.sync_all().map_err(fail)?;
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path).map_err(fail)?;
        file.write_all(bytes).map_err(fail)?;
        file.sync_all().map_err(fail)?;
    }
    Ok(())
}
