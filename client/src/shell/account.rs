//! Accounts: REG, DEREG, LOGIN, LOGOUT, IMPORT, EXPORT, RECOVER.
//!
//! Every command that asks for passwords takes them through
//! [`Shell::pre_secret`]: in a script they are read before any check.

use std::path::{Path, PathBuf};

use gochat_runtime::Runtime;

use super::Shell;
use super::args::{self, Line, not_enough, too_many};
use super::help::Cmd;
use crate::types::{ClientError, ServerRecord};

impl<R: Runtime> Shell<R> {
    /// REG [username]: prompts for the username (unless given) and the
    /// password twice.
    pub(super) async fn cmd_reg(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let args = line.args();
        let check = |shell: &Self| -> Result<(), ClientError> {
            if args.len() > 1 {
                return Err(too_many(Cmd::Reg.usage()));
            }
            match shell.connection()?.user() {
                Some(_) => Err(ClientError::AlreadyLoggedIn),
                None => Ok(()),
            }
        };
        if self.interactive {
            check(self)?;
        }
        let name = match args.first() {
            Some(n) => (*n).to_owned(),
            None => self.read_answer("username: ").await?,
        };
        let first = self.read_secret("password: ").await;
        let second = self.read_secret("repeat password: ").await;
        check(self)?;
        let name = name.to_ascii_lowercase();
        if name.is_empty() {
            return Err(ClientError::Invalid("username cannot be empty".to_owned()));
        }
        let (first, second) = (first?, second?);
        if first != second {
            return Err(ClientError::Invalid("passwords do not match".to_owned()));
        }
        let conn = self.connection()?;
        self.step("generating an RSA-4096 key (this takes a few seconds)...");
        conn.register(&name, &first).await?;
        self.out.ok(&format!(
            "local user {name} successfully added to the database"
        ));
        Ok(())
    }

    /// DEREG: prompts for the logged-in user's password.
    pub(super) async fn cmd_dereg(&mut self) -> Result<(), ClientError> {
        let user = self.connection().ok().and_then(|c| c.user());
        if self.interactive && user.is_none() {
            self.connection()?;
            return Err(ClientError::NotLoggedIn);
        }
        let question = question_for(user.as_deref());
        let pending = self.pre_secret(&question).await;
        let conn = self.connection()?;
        let user = conn.user().ok_or(ClientError::NotLoggedIn)?;
        let password = self.take_secret(pending, &question).await?;
        conn.deregister(&password).await?;
        self.out.ok(&format!("user {user} deregistered correctly"));
        Ok(())
    }

    /// LOGIN <username>: prompts for the password; the service then catches
    /// up, subscribes to every hook and lists the online users.
    pub(super) async fn cmd_login(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let args = line.args();
        let name = args.first().map(|n| n.to_ascii_lowercase());
        let question = question_for(name.as_deref());
        let pending = self.pre_secret(&question).await;
        let name = name.ok_or_else(|| not_enough(Cmd::Login.usage()))?;
        if args.len() > 1 {
            return Err(too_many(Cmd::Login.usage()));
        }
        let conn = self.connection()?;
        if conn.user().is_some() {
            return Err(ClientError::AlreadyLoggedIn);
        }
        let server_id = conn.server().id;
        if self
            .service
            .store()
            .account(server_id, &name)
            .await?
            .is_none()
        {
            return Err(ClientError::NotFound(format!("local user {name}")));
        }
        let password = self.take_secret(pending, &question).await?;
        self.step("checking the password and opening the private key...");
        let summary = conn.login(&name, &password).await?;
        if summary.used_token {
            self.step("logged in with the reusable token");
        }
        self.out.ok("login successful!");
        self.out.info(&format!("Welcome, {name}"));
        self.out.info(&format!(
            "Logged in with permission level {}",
            summary.permission
        ));
        if summary.catch_up_started {
            self.out
                .info("receiving the messages sent to you while you were offline");
        }
        if !summary.online.is_empty() {
            let names: Vec<String> = summary
                .online
                .iter()
                .map(|u| match u.permission {
                    Some(p) if p > 0 => format!("{} (permission {p})", u.name),
                    _ => u.name.to_string(),
                })
                .collect();
            self.out
                .info(&format!("online users: {}", names.join(", ")));
        }
        Ok(())
    }

    /// LOGOUT.
    pub(super) async fn cmd_logout(&mut self) -> Result<(), ClientError> {
        self.connection()?.logout().await?;
        self.out.ok("logged out");
        Ok(())
    }

    /// IMPORT <username> <key file> [server name]: prompts for a new password
    /// twice.
    pub(super) async fn cmd_import(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::Import.usage();
        let args = line.args();
        let first = self.pre_secret("password: ").await;
        let second = self.pre_secret("repeat password: ").await;
        let (user, file) = match args[..] {
            [user, file] | [user, file, _] => (user.to_ascii_lowercase(), file),
            [] | [_] => return Err(not_enough(usage)),
            _ => return Err(too_many(usage)),
        };
        let server = self.server_for(args.get(2).copied(), usage).await?;
        let path = self.import_path(file);
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| ClientError::Io(format!("{}: {e}", path.display())))?;
        let first = self.take_secret(first, "password: ").await?;
        let second = self.take_secret(second, "repeat password: ").await?;
        if first != second {
            return Err(ClientError::Invalid("passwords do not match".to_owned()));
        }
        self.service
            .import_key(&server, &user, &pem, &first)
            .await?;
        self.out.ok(&format!(
            "local user {user} successfully added to the database"
        ));
        Ok(())
    }

    /// EXPORT <username> [server name]: needs no connection.
    pub(super) async fn cmd_export(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::Export.usage();
        let args = line.args();
        let user = args.first().map(|u| u.to_ascii_lowercase());
        let question = question_for(user.as_deref());
        let pending = self.pre_secret(&question).await;
        let user = user.ok_or_else(|| not_enough(usage))?;
        if args.len() > 2 {
            return Err(too_many(usage));
        }
        let server = match args.get(1) {
            Some(name) => self.server_for(Some(name), usage).await?,
            None if self.connection().is_ok() => self.server_for(None, usage).await?,
            None => self.only_server_of(&user, usage).await?,
        };
        let password = self.take_secret(pending, &question).await?;
        let dir = self.workdir.join("export");
        let written = self
            .service
            .export_key(&server, &user, &password, &dir)
            .await?;
        let shown = self.shown_path(&written);
        self.out
            .ok(&format!("file successfully written to {shown}"));
        Ok(())
    }

    /// RECOVER <user> [-cleanup]: the accounts of deleted servers.
    pub(super) async fn cmd_recover(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::Recover.usage();
        let f = args::flags(&line.args(), &["-cleanup"]);
        let user = f
            .as_ref()
            .ok()
            .and_then(|f| f.positional.first())
            .map(|u| u.to_ascii_lowercase());
        let question = question_for(user.as_deref());
        let pending = self.pre_secret(&question).await;
        let f = f?;
        let user = user.ok_or_else(|| not_enough(usage))?;
        if f.positional.len() > 1 {
            return Err(too_many(usage));
        }
        let password = self.take_secret(pending, &question).await?;
        let dir = self.workdir.join("export");
        let cleanup = f.has("-cleanup");
        let written = self
            .service
            .recover(&user, &password, &dir, cleanup)
            .await?;
        for path in &written {
            let shown = self.shown_path(path);
            self.out
                .ok(&format!("file successfully written to {shown}"));
        }
        if cleanup {
            self.out
                .ok(&format!("deleted user {user} from the database"));
        }
        Ok(())
    }

    /// The server named, else the connected one.
    async fn server_for(
        &self,
        name: Option<&str>,
        usage: &str,
    ) -> Result<ServerRecord, ClientError> {
        match name {
            Some(name) => self
                .service
                .store()
                .server_by_name(name)
                .await?
                .ok_or_else(|| ClientError::NotFound(format!("server {name}"))),
            None => match self.connection() {
                Ok(conn) => Ok(conn.server().clone()),
                Err(_) => Err(ClientError::Invalid(format!(
                    "not connected to a server: name the server (usage: {usage})"
                ))),
            },
        }
    }

    /// The one known server with a local user `user` (offline EXPORT).
    async fn only_server_of(&self, user: &str, usage: &str) -> Result<ServerRecord, ClientError> {
        let store = self.service.store();
        let servers = store.servers().await?;
        let mut found = Vec::new();
        for account in store.accounts(None).await? {
            if account.username == user
                && let Some(s) = servers.iter().find(|s| s.id == account.server_id)
            {
                found.push(s.clone());
            }
        }
        match found.len() {
            0 => Err(ClientError::NotFound(format!("local user {user}"))),
            1 => Ok(found.remove(0)),
            _ => Err(ClientError::Invalid(format!(
                "local user {user} exists on several servers: name the server (usage: {usage})"
            ))),
        }
    }

    /// Where IMPORT reads `file`: an absolute path as given, anything else
    /// in the `import/` folder.
    fn import_path(&self, file: &str) -> PathBuf {
        let path = Path::new(file);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.workdir.join("import").join(path)
        }
    }

    /// A written file as the user reads it: relative to the working
    /// directory when the folders are there.
    fn shown_path(&self, path: &Path) -> String {
        match path.strip_prefix(".") {
            Ok(rel) if self.workdir == Path::new(".") => rel.display().to_string(),
            _ => path.display().to_string(),
        }
    }
}

/// `<user>'s password: `, or `password: ` when no user is known.
fn question_for(user: Option<&str>) -> String {
    match user {
        Some(u) => format!("{u}'s password: "),
        None => "password: ".to_owned(),
    }
}
