//! A protocol client with no session logic: it sends what it is told and
//! reads what comes, so tests see exactly what a server does.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use gochat_proto::crypto;
use gochat_proto::{ClientCommand, Decoder, Direction, ErrorCode, Packet, ServerCommand, UserList};
use gochat_runtime::{Runtime, Stream};

use crate::cert::test_cert;
use crate::keys::{private_key, public_pem, user};
use crate::scenario::TIMEOUT;

/// `ERR code`.
pub fn err(code: ErrorCode) -> ServerCommand {
    ServerCommand::Err(code)
}

/// A protocol client with no session logic: it sends what it is told and
/// reads what comes, so tests see exactly what the server does.
pub struct RawClient<R: Runtime> {
    rt: R,
    stream: Box<dyn Stream>,
    decoder: Decoder,
    next_id: u16,
    /// Null-id packets and replies nobody waited for, in arrival order.
    pub inbox: VecDeque<Packet>,
    /// Whether the server closed the connection.
    pub eof: bool,
}

impl<R: Runtime> RawClient<R> {
    /// The names USRS ONLINE lists (none when the answer is ERR OPTION).
    pub async fn online_names(&mut self) -> Vec<String> {
        match self.call(ClientCommand::Usrs(UserList::Online)).await {
            ServerCommand::Usrs(list) => list.iter().map(|e| e.name.as_str().to_string()).collect(),
            ServerCommand::Err(ErrorCode::Option) => Vec::new(),
            other => panic!("USRS: {other:?}"),
        }
    }

    /// Connects over TCP without waiting for HELLO.
    pub async fn connect_raw(rt: &R, addr: SocketAddr) -> Self {
        let stream = rt.connect(addr).await.unwrap();
        RawClient {
            rt: rt.clone(),
            stream: Box::new(stream),
            decoder: Decoder::new(Direction::ToClient),
            next_id: 1,
            inbox: VecDeque::new(),
            eof: false,
        }
    }

    /// Connects over TCP and reads HELLO; returns the client and the MOTD.
    pub async fn connect(rt: &R, addr: SocketAddr) -> (Self, Bytes) {
        let mut c = Self::connect_raw(rt, addr).await;
        let motd = c.hello().await;
        (c, motd)
    }

    /// Connects over TLS (certificate checked against the test CA) and reads HELLO.
    pub async fn connect_tls(rt: &R, addr: SocketAddr) -> (Self, Bytes) {
        let tcp = rt.connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = rt
            .tls_connect(test_cert().client.clone(), name, tcp)
            .await
            .unwrap();
        let mut c = RawClient {
            rt: rt.clone(),
            stream: Box::new(tls),
            decoder: Decoder::new(Direction::ToClient),
            next_id: 1,
            inbox: VecDeque::new(),
            eof: false,
        };
        let motd = c.hello().await;
        (c, motd)
    }

    /// Reads HELLO and returns its MOTD.
    pub async fn hello(&mut self) -> Bytes {
        match self.push(TIMEOUT).await {
            Some(ServerCommand::Hello { motd }) => motd,
            other => panic!("expected HELLO, got {other:?}"),
        }
    }

    /// Reads more bytes; false at end of stream or deadline.
    async fn fill(&mut self, deadline: Instant) -> bool {
        if self.eof {
            return false;
        }
        let mut buf = vec![0u8; 16 * 1024];
        let read = async { self.stream.read(&mut buf).await };
        match gochat_runtime::with_deadline(&self.rt, deadline, read).await {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => false,
            Ok(0) | Err(_) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                self.decoder.feed(&buf[..n]);
                true
            }
        }
    }

    /// The next packet from the server, if one comes before `deadline`.
    async fn next_packet(&mut self, deadline: Instant) -> Option<Packet> {
        loop {
            match self.decoder.decode() {
                Ok(Some(p)) => return Some(p),
                Ok(None) => {}
                Err(e) => panic!("server sent a malformed packet: {e}"),
            }
            if !self.fill(deadline).await {
                return None;
            }
        }
    }

    /// Shuts down the writing half (the server reads end of stream); what
    /// the server still sends can be read.
    pub async fn shutdown_write(&mut self) {
        let _ = self.stream.close().await;
    }

    /// Writes `bytes` as they are (errors ignored: the server may have closed).
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
        let _ = self.stream.flush().await;
    }

    /// Sends a command with a fresh id.
    pub async fn send(&mut self, cmd: &ClientCommand) -> u16 {
        let id = self.next_id;
        self.next_id = if self.next_id >= 1023 {
            1
        } else {
            self.next_id + 1
        };
        self.send_with_id(cmd, id).await;
        id
    }

    /// Sends a command with the id given.
    pub async fn send_with_id(&mut self, cmd: &ClientCommand, id: u16) {
        let mut b = BytesMut::new();
        cmd.encode(id, &mut b).unwrap();
        self.write_raw(&b).await;
    }

    /// The reply to `id`; null-id packets met on the way go to the inbox.
    pub async fn reply(&mut self, id: u16) -> ServerCommand {
        if let Some(pos) = self.inbox.iter().position(|p| p.id() == id) {
            let p = self.inbox.remove(pos).unwrap();
            return ServerCommand::from_packet(&p).unwrap();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_packet(deadline).await {
                Some(p) if p.id() == id => return ServerCommand::from_packet(&p).unwrap(),
                Some(p) => self.inbox.push_back(p),
                None => panic!("no reply to request {id} (connection closed or timed out)"),
            }
        }
    }

    /// The next packet with an id (a reply), with that id; null-id packets
    /// met on the way go to the inbox.
    pub async fn next_reply(&mut self) -> (u16, ServerCommand) {
        if let Some(pos) = self.inbox.iter().position(|p| !p.is_null_id()) {
            let p = self.inbox.remove(pos).unwrap();
            return (p.id(), ServerCommand::from_packet(&p).unwrap());
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_packet(deadline).await {
                Some(p) if !p.is_null_id() => {
                    return (p.id(), ServerCommand::from_packet(&p).unwrap());
                }
                Some(p) => self.inbox.push_back(p),
                None => panic!("no reply came (connection closed or timed out)"),
            }
        }
    }

    /// Sends and waits for the reply.
    pub async fn call(&mut self, cmd: ClientCommand) -> ServerCommand {
        let id = self.send(&cmd).await;
        self.reply(id).await
    }

    /// The next null-id packet, within `wait`.
    pub async fn push(&mut self, wait: Duration) -> Option<ServerCommand> {
        if let Some(pos) = self.inbox.iter().position(|p| p.is_null_id()) {
            let p = self.inbox.remove(pos).unwrap();
            return Some(ServerCommand::from_packet(&p).unwrap());
        }
        let deadline = Instant::now() + wait;
        loop {
            match self.next_packet(deadline).await {
                Some(p) if p.is_null_id() => return Some(ServerCommand::from_packet(&p).unwrap()),
                Some(p) => self.inbox.push_back(p),
                None => return None,
            }
        }
    }

    /// Whether nothing arrives within `wait` (no push pending).
    pub async fn quiet(&mut self, wait: Duration) -> bool {
        self.push(wait).await.is_none() && self.inbox.is_empty()
    }

    /// Reads until the server closes; returns the null-id packets read.
    pub async fn until_closed(&mut self, wait: Duration) -> Vec<ServerCommand> {
        let deadline = Instant::now() + wait;
        let mut out: Vec<ServerCommand> = self
            .inbox
            .drain(..)
            .map(|p| ServerCommand::from_packet(&p).unwrap())
            .collect();
        loop {
            match self.decoder.decode() {
                Ok(Some(p)) => {
                    out.push(ServerCommand::from_packet(&p).unwrap());
                    continue;
                }
                Ok(None) => {}
                Err(e) => panic!("server sent a malformed packet: {e}"),
            }
            if !self.fill(deadline).await {
                break;
            }
        }
        assert!(
            self.eof,
            "server did not close the connection within {wait:?}"
        );
        assert!(
            Instant::now() < deadline,
            "server did not close the connection within {wait:?}"
        );
        out
    }

    /// REG with a fixture key.
    pub async fn register(&mut self, name: &str) -> ServerCommand {
        self.call(ClientCommand::Reg {
            username: user(name),
            pubkey: public_pem(name),
        })
        .await
    }

    /// A full challenge login with a fixture key; returns the final reply
    /// and the challenge text (the token over TLS).
    pub async fn login(&mut self, name: &str) -> (ServerCommand, Option<Bytes>) {
        match self
            .call(ClientCommand::Login {
                username: user(name),
            })
            .await
        {
            ServerCommand::Verif { challenge } => {
                let key = private_key(name);
                let text = crypto::decrypt(&key, &mut getrandom::SysRng, &challenge).unwrap();
                let text = Bytes::from(text);
                let reply = self
                    .call(ClientCommand::Verif {
                        username: user(name),
                        answer: text.clone(),
                    })
                    .await;
                (reply, Some(text))
            }
            other => (other, None),
        }
    }

    /// Registers and logs in, asserting both succeed.
    pub async fn register_and_login(&mut self, name: &str) -> Bytes {
        assert_eq!(self.register(name).await, ServerCommand::Ok, "REG {name}");
        let (reply, token) = self.login(name).await;
        assert_eq!(reply, ServerCommand::Ok, "LOGIN {name}");
        token.unwrap()
    }
}

/// The USRS reply listing `names` (in order) without permissions, as USRS
/// ONLINE answers.
pub fn online_users(names: &[&str]) -> ServerCommand {
    ServerCommand::Usrs(
        names
            .iter()
            .map(|name| gochat_proto::UserEntry {
                name: user(name),
                permission: None,
            })
            .collect(),
    )
}
