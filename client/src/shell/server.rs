//! Servers and connections: CONN, DISCN, REGSERVER, DELSERVER, SERVERS,
//! SERVERCONFIG, SETSERVER, and the automatic connection of the
//! configuration.

use gochat_runtime::Runtime;
use gochat_runtime::tls::ServerVerification;

use super::Shell;
use super::args::{self, Line, not_enough, too_many};
use super::events;
use super::help::Cmd;
use crate::config::AutoConnect;
use crate::service::ConnectOptions;
use crate::types::{ClientError, ClientEvent, ServerRecord};

/// `address:port`, with `, TLS` for a TLS server.
fn endpoint(s: &ServerRecord) -> String {
    let tls = if s.tls { ", TLS" } else { "" };
    format!("{}:{}{tls}", s.address, s.port)
}

/// A yes/no value typed by the user.
fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `e`, with `how` to turn TLS off added when the server does not seem to
/// speak TLS.
fn with_tls_hint(e: ClientError, how: &str) -> ClientError {
    match e {
        ClientError::NotTls { .. } => ClientError::Invalid(format!(
            "{e}. If it is a plain TCP server, turn TLS off for it: {how}"
        )),
        e => e,
    }
}

impl<R: Runtime> Shell<R> {
    /// CONN <address> <port> | <server name>, with -keep and -noverify anywhere.
    pub(super) async fn cmd_conn(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::Conn.usage();
        if self.connection().is_ok() {
            return Err(ClientError::AlreadyConnected);
        }
        let f = args::flags(&line.args(), &["-keep", "-noverify"])?;
        let store = self.service.store().clone();
        let server = match f.positional.as_slice() {
            [] => return Err(not_enough(usage)),
            [name] => store
                .server_by_name(name)
                .await?
                .ok_or_else(|| ClientError::NotFound(format!("server {name}")))?,
            [address, port] => {
                let port = args::port(port)?;
                match store.server_by_endpoint(address, port).await? {
                    Some(s) => s,
                    None => {
                        let s = store.add_server(None, address, port, false).await?;
                        self.out.info(&format!(
                            "server {} ({}) added to the local database",
                            s.name,
                            endpoint(&s)
                        ));
                        s
                    }
                }
            }
            _ => return Err(too_many(usage)),
        };
        let name = server.name.clone();
        self.open(server, f.has("-keep"), f.has("-noverify"))
            .await
            .map_err(|e| {
                with_tls_hint(
                    e,
                    &format!("SETSERVER {name} Server.TLS false, then CONN {name} again"),
                )
            })
    }

    /// Connects to `server` and prints the greeting.
    async fn open(
        &mut self,
        server: ServerRecord,
        keep: bool,
        noverify: bool,
    ) -> Result<(), ClientError> {
        let verification = if noverify {
            if !server.tls {
                return Err(ClientError::Invalid(
                    "cannot skip verification on a non-TLS endpoint".to_owned(),
                ));
            }
            self.out.info(
                "WARNING: -noverify: the server's certificate is not checked, so anyone between \
                 you and the server can read and change everything",
            );
            ServerVerification::Disabled
        } else {
            match &self.ca_file {
                Some(path) => ServerVerification::CaFile(path.clone()),
                None => ServerVerification::SystemRoots,
            }
        };
        let options = ConnectOptions {
            verification,
            // KEEP always goes out before the server's idle deadline; `-keep`
            // (the original's opt-in) is accepted and changes nothing.
            keepalive: Some(ConnectOptions::DEFAULT_KEEPALIVE),
            ..ConnectOptions::default()
        };
        self.step(&format!(
            "connecting to {} ({})...",
            server.name,
            endpoint(&server)
        ));
        let conn = self.service.connect(&self.rt, &server, &options).await?;
        let motd = conn.motd().to_owned();
        self.events = Some(conn.events());
        self.conn = Some(conn);
        self.out.ok("successfully connected to the server");
        if keep {
            self.step(
                "keepalives are always on: the server will not drop the connection for idleness",
            );
        }
        if !motd.is_empty() {
            self.out
                .info(&format!("Server MOTD (message of the day):\n{motd}"));
        }
        Ok(())
    }

    /// The configured automatic connection: the server is stored as
    /// `Default` with the configured TLS flag (the original forgot it).
    pub(super) async fn auto_connect(&mut self, auto: &AutoConnect) -> Result<(), ClientError> {
        let store = self.service.store().clone();
        let server = match store.server_by_endpoint(&auto.address, auto.port).await? {
            Some(s) if s.tls == auto.tls => s,
            Some(mut s) => {
                s.tls = auto.tls;
                store.update_server(&s).await?;
                self.service.forget_tokens(s.id);
                s
            }
            None => match store
                .add_server(Some("Default"), &auto.address, auto.port, auto.tls)
                .await
            {
                Ok(s) => s,
                Err(ClientError::Exists(_)) => {
                    store
                        .add_server(None, &auto.address, auto.port, auto.tls)
                        .await?
                }
                Err(e) => return Err(e),
            },
        };
        let noverify = auto.tls && !auto.verify;
        self.open(server, false, noverify).await.map_err(|e| {
            with_tls_hint(
                e,
                "set \"use_tls\": false under \"shell_server\" in the configuration file",
            )
        })
    }

    /// DISCN.
    pub(super) async fn cmd_discn(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        if !line.args().is_empty() {
            return Err(too_many(Cmd::Discn.usage()));
        }
        let conn = self.connection()?;
        conn.disconnect().await;
        // Print what came before the close; the close itself was asked for.
        if let Some(rx) = self.events.take() {
            let server = conn.server().name.clone();
            while let Ok(event) = rx.try_recv() {
                if !matches!(event, ClientEvent::Disconnected { .. }) {
                    events::print_event(&mut self.out, &self.zone, &event, &server, self.bell);
                }
            }
        }
        self.conn = None;
        self.out.ok("successfully disconnected from the server");
        Ok(())
    }

    /// REGSERVER <name> <address> <port> [-tls].
    pub(super) async fn cmd_regserver(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::RegServer.usage();
        let f = args::flags(&line.args(), &["-tls"])?;
        let [name, address, port] = f.positional.as_slice() else {
            return Err(if f.positional.len() < 3 {
                not_enough(usage)
            } else {
                too_many(usage)
            });
        };
        let port = args::port(port)?;
        let store = self.service.store();
        let s = store
            .add_server(Some(name), address, port, f.has("-tls"))
            .await?;
        self.service.forget_tokens(s.id);
        self.out.ok(&format!(
            "Server {} ({}) successfully registered",
            s.name,
            endpoint(&s)
        ));
        Ok(())
    }

    /// DELSERVER <name>.
    pub(super) async fn cmd_delserver(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::DelServer.usage();
        let [name] = line.args()[..] else {
            return Err(if line.args().is_empty() {
                not_enough(usage)
            } else {
                too_many(usage)
            });
        };
        let store = self.service.store();
        let server = store
            .server_by_name(name)
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("server {name}")))?;
        store.delete_server(name).await?;
        self.service.forget_tokens(server.id);
        self.out.ok(&format!("server {name} deleted successfully"));
        Ok(())
    }

    /// SERVERS.
    pub(super) async fn cmd_servers(&mut self) -> Result<(), ClientError> {
        let servers = self.service.store().servers().await?;
        self.out.plain("all servers:");
        for s in servers {
            self.out.plain(&format!("- {} ({})", s.name, endpoint(&s)));
        }
        Ok(())
    }

    /// SERVERCONFIG <name>.
    pub(super) async fn cmd_serverconfig(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::ServerConfig.usage();
        let [name] = line.args()[..] else {
            return Err(if line.args().is_empty() {
                not_enough(usage)
            } else {
                too_many(usage)
            });
        };
        let s = self
            .service
            .store()
            .server_by_name(name)
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("server {name}")))?;
        self.out.plain("Available configuration objects:");
        self.out.plain(&format!("Server.Address = {}", s.address));
        self.out.plain(&format!("Server.Port = {}", s.port));
        self.out.plain(&format!("Server.TLS = {}", s.tls));
        self.out.plain(&format!("Server.Name = {}", s.name));
        Ok(())
    }

    /// SETSERVER <name> <target> <value…>.
    pub(super) async fn cmd_setserver(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let args = line.args();
        let (Some(name), Some(target)) = (args.first(), args.get(1)) else {
            return Err(not_enough(Cmd::SetServer.usage()));
        };
        let value = line.rest_after(2);
        if value.is_empty() {
            return Err(not_enough(Cmd::SetServer.usage()));
        }
        if self.connection().is_ok() {
            return Err(ClientError::Invalid(
                "you must be offline to change a server (DISCN first)".to_owned(),
            ));
        }
        let store = self.service.store();
        let mut s = store
            .server_by_name(name)
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("server {name}")))?;
        let lower = target.to_ascii_lowercase();
        let field = lower.strip_prefix("server.").unwrap_or(&lower);
        let bad =
            |why: &str| ClientError::Invalid(format!("failed to set {target} to {value}: {why}"));
        match field {
            "address" => s.address = value.to_owned(),
            "name" => s.name = value.to_owned(),
            "port" => s.port = args::port(value).map_err(|_| bad("not a port number"))?,
            "tls" => s.tls = parse_bool(value).ok_or_else(|| bad("true or false expected"))?,
            _ => {
                return Err(ClientError::Invalid(format!(
                    "provided field {target} does not exist (Server.Name, Server.Address, \
                     Server.Port or Server.TLS)"
                )));
            }
        }
        store.update_server(&s).await?;
        self.service.forget_tokens(s.id);
        self.out
            .ok(&format!("successfully changed {target} to {value}"));
        Ok(())
    }
}
