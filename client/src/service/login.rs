//! Accounts on a connection: registering, logging in (token or challenge,
//! then catch-up, hooks and the online list), logging out, deregistering.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gochat_proto::crypto::{self, RsaPrivateKey};
use gochat_proto::{ClientCommand, ErrorCode, Hook, ServerCommand, UserEntry, UserList};

use super::connection::{Connection, parse_username};
use super::exec::run_blocking;
use super::task::{Account, lock};
use crate::keys;
use crate::types::ClientError;

/// How many times a registration answered with ERR SERVER is retried (the
/// original server answers that under load).
const REG_RETRIES: u32 = 4;
/// The pause before the first retry; it doubles each time.
const REG_BACKOFF: Duration = Duration::from_millis(200);

/// What a successful [`Connection::login`] found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginSummary {
    /// The account's permission level (REQ on itself).
    pub permission: u8,
    /// The users online, with their permission levels (empty if the list
    /// could not be had).
    pub online: Vec<UserEntry>,
    /// Whether the reusable token was used instead of the challenge.
    pub used_token: bool,
    /// Whether the server started sending stored messages (they arrive as
    /// events); `false` when there were none.
    pub catch_up_started: bool,
}

impl Connection {
    /// Registers `username` (lowercased) on the server with a new RSA-4096
    /// key, then stores the account locally: bcrypt hash of `password` and the
    /// private key sealed with it.
    ///
    /// Checks first that the name is valid, that no local account has it and
    /// that nobody is logged in on this connection. The key is generated on a
    /// blocking thread (it takes seconds). A REG answered with ERR SERVER is
    /// retried a few times, as the original server answers it under load.
    pub async fn register(&self, username: &str, password: &str) -> Result<(), ClientError> {
        let name = parse_username(username)?;
        self.connected()?;
        if self.user().is_some() {
            return Err(ClientError::AlreadyLoggedIn);
        }
        check_password(password)?;
        let server_id = self.inner.server.id;
        let store = self.inner.service.store();
        if store.account(server_id, name.as_str()).await?.is_some() {
            return Err(ClientError::Exists(format!("local user {name}")));
        }
        let pw = password.to_owned();
        let (pub_pem, hash, sealed) = run_blocking(&*self.inner.exec, move || {
            let (_key, priv_pem, pub_pem) = keys::generate_key()?;
            let hash = keys::hash_password(&pw)?;
            let sealed = keys::seal_private_key(&priv_pem, &pw)?;
            Ok::<_, ClientError>((pub_pem, hash, sealed))
        })
        .await??;
        let pubkey = Bytes::from(pub_pem);
        let mut pause = REG_BACKOFF;
        let mut attempt = 0;
        loop {
            let reg = ClientCommand::Reg {
                username: name.clone(),
                pubkey: pubkey.clone(),
            };
            match self.expect_ok(reg).await {
                Ok(()) => break,
                Err(ClientError::Server(ErrorCode::Server)) if attempt < REG_RETRIES => {
                    attempt += 1;
                    tracing::info!("REG {name}: server busy, retry {attempt} in {pause:?}");
                    self.inner.exec.sleep(pause).await;
                    pause = pause.saturating_mul(2);
                }
                Err(e) => return Err(e),
            }
        }
        store
            .add_account(server_id, name.as_str(), &hash, &sealed)
            .await?;
        Ok(())
    }

    /// Logs in as the local account `username` (lowercased).
    ///
    /// Checks `password` against the account and opens its sealed key (on a
    /// blocking thread). Over TLS the token held from an earlier login is
    /// tried first, falling back to the challenge if the server refuses it;
    /// after a challenge login over TLS the challenge text is kept as the
    /// token. Then, in this order: REQ on itself (the permission), RECIV
    /// (catch-up: the stored messages arrive as events), SUB ALL, and USRS
    /// online-with-permissions. Failures of these steps are logged, not
    /// returned: the login itself succeeded.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginSummary, ClientError> {
        let name = parse_username(username)?;
        self.connected()?;
        if self.user().is_some() {
            return Err(ClientError::AlreadyLoggedIn);
        }
        let server_id = self.inner.server.id;
        let service = &self.inner.service;
        let account = service
            .store()
            .account(server_id, name.as_str())
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("local user {name}")))?;
        let pw = password.to_owned();
        let (key, history) =
            run_blocking(&*self.inner.exec, move || open_account_key(&account, &pw)).await??;
        // Unlocked before anything of this login can arrive; what is still
        // plaintext (older history, the original client's) is sealed now.
        match service
            .store()
            .unlock_history(server_id, name.as_str(), history)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!("sealed {n} stored messages of {name}"),
            Err(e) => tracing::warn!("sealing the history of {name} failed: {e}"),
        }
        let account = Arc::new(Account {
            server_id,
            username: name.clone(),
            key,
        });

        let mut token = None;
        if self.is_tls()
            && let Some(held) = service.token(server_id, name.as_str())
        {
            match self.start_login(account.clone(), Some(held)).await {
                Ok(t) => token = Some(t),
                Err(ClientError::Server(code)) => {
                    tracing::info!(
                        "token login of {name} refused ({}); using the challenge",
                        code.name()
                    );
                    service.drop_token(server_id, name.as_str());
                }
                Err(e) => return Err(e),
            }
        }
        let used_token = token.is_some();
        let token = match token {
            Some(t) => t,
            None => self.start_login(account, None).await?,
        };
        if self.is_tls() {
            service.set_token(server_id, name.as_str(), token);
        }

        let own = self
            .request(ClientCommand::Req {
                username: name.clone(),
            })
            .await;
        let catch_up_started = match self.reciv().await {
            Ok(started) => started,
            Err(e) => {
                tracing::warn!("catch-up after login failed: {e}");
                false
            }
        };
        match self.subscribe(Hook::All).await {
            Ok(()) | Err(ClientError::Server(ErrorCode::Exists)) => {}
            Err(e) => tracing::warn!("subscribing to hooks after login failed: {e}"),
        }
        let online = match self.users(UserList::OnlinePerms).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!("listing online users after login failed: {e}");
                Vec::new()
            }
        };
        let permission = match own {
            Ok(ServerCommand::Req { permission, .. }) => permission,
            _ => online
                .iter()
                .find(|u| u.name == name)
                .and_then(|u| u.permission)
                .unwrap_or(0),
        };
        {
            let mut state = lock(&self.inner.state);
            if state.user.as_deref() == Some(name.as_str()) {
                state.permission = Some(permission);
            }
        }
        Ok(LoginSummary {
            permission,
            online,
            used_token,
            catch_up_started,
        })
    }

    /// Logs out; the connection stays open, and the reusable token (TLS) is
    /// kept for the next login.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.logged_in()?;
        let user = self.user();
        self.expect_ok(ClientCommand::Logout).await?;
        if let Some(user) = user {
            // The history is sealed again for this run too.
            let server_id = self.inner.server.id;
            self.inner.service.store().lock_history(server_id, &user);
        }
        Ok(())
    }

    /// Deregisters the logged-in account: checks `password` against it,
    /// sends DEREG, and on OK deletes that local account (its history stays).
    /// The original checked one account and deleted another; this one only
    /// ever touches the logged-in account.
    pub async fn deregister(&self, password: &str) -> Result<(), ClientError> {
        let name = self.logged_in()?;
        let server_id = self.inner.server.id;
        let store = self.inner.service.store();
        let account = store
            .account(server_id, name.as_str())
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("local user {name}")))?;
        let pw = password.to_owned();
        let hash = account.password_hash.clone();
        let matches =
            run_blocking(&*self.inner.exec, move || keys::verify_password(&pw, &hash)).await?;
        if !matches {
            return Err(ClientError::WrongPassword);
        }
        self.expect_ok(ClientCommand::Dereg).await?;
        self.inner.service.drop_token(server_id, name.as_str());
        store.delete_account(server_id, name.as_str()).await?;
        Ok(())
    }
}

/// Local checks of a new password.
pub(crate) fn check_password(password: &str) -> Result<(), ClientError> {
    if password.is_empty() {
        return Err(ClientError::Invalid(
            "the password cannot be empty".to_owned(),
        ));
    }
    if password.len() > keys::MAX_PASSWORD_LEN {
        return Err(ClientError::Invalid(format!(
            "the password is longer than {} bytes",
            keys::MAX_PASSWORD_LEN
        )));
    }
    Ok(())
}

/// Checks `password` against `account` and opens its private key and its
/// history key. Slow (bcrypt, scrypt): run it on a blocking thread.
pub(crate) fn open_account_key(
    account: &crate::types::Account,
    password: &str,
) -> Result<(RsaPrivateKey, keys::HistoryKey), ClientError> {
    if !keys::verify_password(password, &account.password_hash) {
        return Err(ClientError::WrongPassword);
    }
    let (pem, history) = keys::open_account_secrets(&account.sealed_key, password)?;
    let key = crypto::private_key_from_pem(pem.as_bytes())
        .map_err(|e| ClientError::Crypto(format!("the stored private key is unusable: {e}")))?;
    Ok((key, history))
}
