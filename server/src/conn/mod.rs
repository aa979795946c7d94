//! One connection's task: the waiting line, then the loop that moves bytes,
//! time and hub messages into its [`ServerSession`] and writes what comes out.
//!
//! Nothing is lost when a connection dies: messages relayed to it that were
//! not yet written to its socket are stored for its user's next catch-up, and
//! a catch-up deletes only the stored messages that were written.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::{AsyncWriteExt, StreamExt};
use gochat_proto::session::server::{ServerEvent, ServerSession};
use gochat_proto::{ClientCommand, ErrorCode, ServerCommand, Username};
use gochat_runtime::driver::{Driven, End, drive};
use gochat_runtime::io::poll_read_with;
use gochat_runtime::{Runtime, Stream};
use tracing::{debug, info};

use crate::core::{ConnId, Outbound, Peer, Relay};
use crate::slots::{SlotGuard, Ticket};
use catchup::{CatchUp, Page};
use requests::MsgRequest;

mod admin;
mod catchup;
mod ctx;
mod requests;

pub use ctx::Ctx;
pub(crate) use ctx::deadline_after;
pub(crate) use requests::unix_now;

/// Marker tokens with this bit belong to relayed messages; the others are
/// ids of stored messages written by a catch-up.
const RELAY_MARK: u64 = 1 << 63;

/// Most outbound items applied per wake-up before the socket gets a turn.
const OUTBOUND_BUDGET: usize = 64;

/// Most MSG requests answered together (see [`Connection::messages`]).
const MSG_BATCH: usize = 256;

/// How long the messages of a closed connection are retried against a
/// failing database before they are given up (and logged as lost).
const KEEP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// What the rest of the server hands a connection.
pub(crate) enum Event {
    /// Something from its mailbox.
    Outbound(Outbound),
    /// A page of stored messages its catch-up asked for, and the size asked.
    Page(Page, u32),
}

/// A session event, with MSG requests taken apart (they are answered in
/// runs, see [`Connection::messages`]).
enum Step {
    Msg(MsgRequest),
    Other(ServerEvent),
}

/// Sorts `event` into a MSG request or any other event.
fn step(event: ServerEvent) -> Step {
    match event {
        ServerEvent::Request {
            id,
            command:
                ClientCommand::Msg {
                    to,
                    stamp,
                    ciphertext,
                },
        } => Step::Msg(MsgRequest {
            id,
            to,
            stamp,
            ciphertext,
        }),
        other => Step::Other(other),
    }
}

/// The state of one admitted connection.
pub(crate) struct Connection<R: Runtime> {
    pub ctx: Arc<Ctx<R>>,
    pub id: ConnId,
    pub ip: IpAddr,
    pub secure: bool,
    pub session: ServerSession,
    pub tx: async_channel::Sender<Outbound>,
    rx: Pin<Box<async_channel::Receiver<Outbound>>>,
    /// The logged-in user, as the hub knows it.
    pub me: Option<Arc<Peer>>,
    inflight: VecDeque<(u64, u64, Relay)>,
    /// Bytes of the session's output written to the socket so far (compared
    /// with the stream position of each relay in `inflight` when a write
    /// fails part-way).
    written: u64,
    next_relay: u64,
    pub catchup: Option<CatchUp>,
    /// No spilling catch-up starts before this (after a failed read).
    pub refill_after: Option<Instant>,
    pub closing: bool,
    /// The session ends because the user's session on another node stays
    /// ([`Outbound::Replaced`]): it leaves without NEWLOGOUT.
    replaced: bool,
}

/// Serves one accepted TCP connection, with TLS first when `tls` is set.
pub(crate) async fn serve_tcp<R: Runtime>(
    ctx: Arc<Ctx<R>>,
    mut stream: R::TcpStream,
    mut addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    if ctx.proxy_protocol {
        // The load balancer's header names the client, before TLS.
        let deadline = deadline_after(ctx.tls_handshake_timeout);
        let header = async {
            crate::proxy_header::read(&mut stream)
                .await
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        };
        match gochat_runtime::with_deadline(&ctx.rt, deadline, header).await {
            Ok(crate::proxy_header::Origin::Client(client)) => addr = client,
            Ok(crate::proxy_header::Origin::Local) => {}
            Err(e) => {
                debug!("connection from {} closed: {e}", addr.ip());
                return;
            }
        }
    }
    // Held for the connection's whole life, the waiting line included.
    let place = ctx.ip_limits.connect(addr.ip());
    match tls {
        None => match place {
            Some(_place) => Connection::new(ctx, addr, false).run(stream).await,
            None => refuse(&ctx, stream, addr).await,
        },
        Some(config) => {
            let deadline = deadline_after(ctx.tls_handshake_timeout);
            let accept = ctx.rt.tls_accept(config, stream);
            match gochat_runtime::with_deadline(&ctx.rt, deadline, accept).await {
                Ok(s) => match place {
                    Some(_place) => Connection::new(ctx, addr, true).run(s).await,
                    None => refuse(&ctx, s, addr).await,
                },
                Err(e) => debug!("TLS handshake with {} failed: {e}", addr.ip()),
            }
        }
    }
}

/// Turns away a connection over its address's limit: ERR CONN with the null
/// id (what the original's clients show as a connection problem), then close.
async fn refuse<R: Runtime, S: Stream>(ctx: &Ctx<R>, mut stream: S, addr: SocketAddr) {
    debug!(
        "connection from {} refused: too many from that address",
        addr.ip()
    );
    let mut packet = bytes::BytesMut::new();
    if ServerCommand::Err(ErrorCode::Conn)
        .encode(0, &mut packet)
        .is_err()
    {
        return;
    }
    let send = async {
        stream.write_all(&packet).await?;
        stream.close().await
    };
    let deadline = Instant::now() + std::time::Duration::from_secs(2);
    let _ = gochat_runtime::with_deadline(&ctx.rt, deadline, send).await;
}

impl<R: Runtime> Connection<R> {
    fn new(ctx: Arc<Ctx<R>>, addr: SocketAddr, secure: bool) -> Self {
        // Unbounded as a channel, bounded by the peer: messages count against
        // `max_queued_bytes` (see `Peer::offer`), hooks stop at it, and the
        // rest (kick, stop, permission) are one-off.
        let (tx, rx) = async_channel::unbounded();
        let id = ctx.hub.next_conn_id();
        Connection {
            session: ServerSession::new(ctx.session_config.clone()),
            ctx,
            id,
            ip: addr.ip(),
            secure,
            tx,
            rx: Box::pin(rx),
            me: None,
            inflight: VecDeque::new(),
            written: 0,
            next_relay: 0,
            catchup: None,
            refill_after: None,
            closing: false,
            replaced: false,
        }
    }

    async fn run<S: Stream>(mut self, mut stream: S) {
        debug!("new connection {} from {}", self.id, self.ip);
        let slot = match self.ctx.slots.acquire() {
            Ok(slot) => slot,
            Err(ticket) => match self.wait_in_line(&mut stream, ticket).await {
                Some(slot) => slot,
                None => {
                    debug!("connection {} left the waiting line", self.id);
                    return;
                }
            },
        };
        if self.ctx.hub.shutdown.is_triggered() {
            return;
        }
        self.ctx.hub.register_conn(self.id, self.tx.clone());
        let motd = self.ctx.hub.motd();
        if self.session.admit(&motd, Instant::now()).is_ok() {
            let rt = self.ctx.rt.clone();
            if let End::Failed(e) = drive(&rt, &mut self, &mut stream).await {
                debug!("connection {} from {}: {e}", self.id, self.ip);
            }
        }
        Box::pin(self.finish()).await;
        let close = async {
            let _ = stream.close().await;
            Ok(())
        };
        let deadline = Instant::now() + std::time::Duration::from_secs(2);
        let _ = gochat_runtime::with_deadline(&self.ctx.rt, deadline, close).await;
        drop(slot);
        debug!("connection {} from {} closed", self.id, self.ip);
    }

    /// Waits for a slot while watching the socket: a waiter that hangs up, or
    /// sends too much, leaves the line.
    async fn wait_in_line<S: Stream>(
        &mut self,
        stream: &mut S,
        ticket: Ticket,
    ) -> Option<SlotGuard> {
        let mut admitted = pin!(ticket.admitted());
        let mut stop = pin!(self.ctx.hub.shutdown.wait());
        let session = &mut self.session;
        poll_fn(|cx| {
            if let Poll::Ready(slot) = admitted.as_mut().poll(cx) {
                return Poll::Ready(Some(slot));
            }
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            loop {
                match poll_read_with(stream, cx, |b| session.handle_input(b, Instant::now())) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(None),
                    Poll::Ready(Ok(_)) if session.is_closed() => return Poll::Ready(None),
                    Poll::Ready(Ok(_)) => continue,
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }

    /// Acts on every event the session has; MSGs that arrived together are
    /// answered together. Whether there was any.
    async fn act_on_session(&mut self) -> bool {
        let mut acted = false;
        let mut next = self.session.poll_event();
        while let Some(event) = next.take() {
            acted = true;
            // Boxed: the handlers' futures (store queries) are large, and an
            // idle connection should not carry their space.
            match step(event) {
                Step::Msg(first) => {
                    let mut batch = vec![first];
                    while batch.len() < MSG_BATCH {
                        match self.session.poll_event().map(step) {
                            Some(Step::Msg(m)) => batch.push(m),
                            Some(Step::Other(other)) => {
                                next = Some(other);
                                break;
                            }
                            None => break,
                        }
                    }
                    Box::pin(self.messages(batch)).await;
                }
                Step::Other(event) => Box::pin(self.on_session_event(event)).await,
            }
            if next.is_none() {
                next = self.session.poll_event();
            }
        }
        acted
    }

    /// Writes everything the session has for the peer, then flushes.
    async fn write_out<S: Stream>(&mut self, stream: &mut S) -> io::Result<()> {
        let mut wrote = false;
        while let Some(chunk) = self.session.poll_transmit() {
            self.write(stream, &chunk).await?;
            wrote = true;
        }
        if wrote {
            self.flush(stream).await?;
        }
        Ok(())
    }

    /// Writes `buf` whole; fails with `TimedOut` when the peer accepts no
    /// byte for the write timeout.
    async fn write<S: Stream>(&mut self, stream: &mut S, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.progress(stream.write(buf)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
            self.written += n as u64;
        }
        Ok(())
    }

    /// Flushes under the write timeout.
    async fn flush<S: Stream>(&self, stream: &mut S) -> io::Result<()> {
        self.progress(stream.flush()).await
    }

    /// Runs one write step, under the write timeout when it does not
    /// complete at once, and cut short once the server has been stopping
    /// for `stop_write_grace` (the connection's queue is then stored).
    async fn progress<T>(&self, step: impl Future<Output = io::Result<T>>) -> io::Result<T> {
        let mut step = pin!(step);
        if let Some(done) = futures_lite::future::poll_once(step.as_mut()).await {
            return done;
        }
        let stopped = async {
            self.ctx.hub.shutdown.wait().await;
            let grace = deadline_after(self.ctx.stop_write_grace);
            self.ctx.rt.sleep_until(grace).await;
            Err(io::Error::other(
                "the server stopped while the peer was not reading",
            ))
        };
        futures_lite::future::or(self.timed_write(step), stopped).await
    }

    /// Awaits a pending write step under the write timeout.
    async fn timed_write<T>(&self, step: impl Future<Output = io::Result<T>>) -> io::Result<T> {
        match self.ctx.write_timeout {
            None => step.await,
            Some(after) => {
                let deadline = deadline_after(after);
                gochat_runtime::with_deadline(&self.ctx.rt, deadline, step)
                    .await
                    .inspect_err(|e| {
                        if e.kind() == io::ErrorKind::TimedOut {
                            info!(
                                "connection {} from {} accepted nothing for {:?}: closed",
                                self.id, self.ip, after
                            );
                        }
                    })
            }
        }
    }

    async fn on_outbound(&mut self, out: Outbound) {
        match out {
            Outbound::Packet(p) => {
                if self.me.is_some() {
                    let _ = self.session.send_packet(&p);
                }
            }
            Outbound::Hook(p) => {
                if let Some(me) = &self.me {
                    me.dequeued(p.wire_len());
                    let _ = self.session.send_packet(&p);
                }
            }
            Outbound::Message(relay) => {
                let me = self.me.as_ref().filter(|m| m.user_id == relay.recipient_id);
                let Some(me) = me.filter(|_| !self.session.is_closed()) else {
                    Box::pin(self.keep_for_later(vec![relay])).await;
                    return;
                };
                let reciv = ServerCommand::Reciv {
                    sender: relay.sender.clone(),
                    stamp: relay.stamp,
                    ciphertext: relay.ciphertext.clone(),
                };
                if self.session.send(&reciv).is_ok() {
                    let token = RELAY_MARK | self.next_relay;
                    self.next_relay = (self.next_relay + 1) & !RELAY_MARK;
                    self.session.push_marker(token);
                    let end = self.session.queued_total();
                    self.inflight.push_back((token, end, relay));
                } else {
                    me.dequeued(relay.queued_size());
                    Box::pin(self.keep_for_later(vec![relay])).await;
                }
            }
            Outbound::Stored => self.on_stored(),
            Outbound::SetPermission(level) => self.session.set_permission(level),
            Outbound::Kick | Outbound::Shutdown => self.close_for(false),
            Outbound::Replaced => self.close_for(true),
        }
    }

    /// Closes the session for a kick, a stop, or (`replaced`) the user's
    /// session on another node, which leaves without NEWLOGOUT.
    fn close_for(&mut self, replaced: bool) {
        self.session.close(None);
        self.closing = true;
        self.replaced |= replaced;
    }

    async fn on_session_event(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Request { id, command } => self.on_request(id, command).await,
            ServerEvent::Verified {
                id,
                username,
                challenge,
            } => {
                self.finish_login(id, username, challenge).await;
            }
            ServerEvent::VerificationExpired { username } => {
                info!("verification of {username} from {} timed out", self.ip);
            }
            ServerEvent::Written(token) if token & RELAY_MARK != 0 => {
                while self.inflight.front().is_some_and(|(t, _, _)| *t <= token) {
                    if let Some((_, _, relay)) = self.inflight.pop_front()
                        && let Some(me) = &self.me
                    {
                        me.dequeued(relay.queued_size());
                    }
                }
            }
            ServerEvent::Written(id) => self.catch_up_written(i64::try_from(id).unwrap_or(0)).await,
            ServerEvent::Closed(reason) => {
                debug!("session {} closed: {reason:?}", self.id);
                self.closing = true;
            }
        }
    }

    /// Stores messages that reached this connection (and were acknowledged
    /// to their senders) but cannot be delivered, in one batch; those of the
    /// logged-in user go ahead of what overflowed its queue.
    pub(crate) async fn keep_for_later(&self, relays: Vec<Relay>) {
        self.keep(self.me.as_ref(), relays).await;
    }

    /// Stores `relays` in one batch, ahead of what overflowed `peer`'s queue
    /// (they were queued, so sent before it).
    async fn keep(&self, peer: Option<&Arc<Peer>>, relays: Vec<Relay>) {
        self.ctx
            .writer
            .insert_acknowledged(relays, peer, KEEP_PATIENCE)
            .await;
    }

    /// Ends the login of this connection, if any: offline, NEWLOGOUT, the
    /// token becomes usable, and queued messages are kept for later.
    pub(crate) async fn end_login(&mut self) {
        self.end_login_keeping(Vec::new()).await;
    }

    /// As [`Self::end_login`], storing `unwritten` (messages the session had
    /// taken and did not write) before the queued ones.
    async fn end_login_keeping(&mut self, mut unwritten: Vec<Relay>) {
        // Written stored messages are deleted before anything is stored
        // ahead of them (which gives the rows after them new ids).
        self.end_catch_up().await;
        // Messages queued for the session that just ended go to the store,
        // in sending order: those the session had, then the queue, ahead of
        // any that went to the store meanwhile (the user is still online
        // until they are stored, so those are noted as spilled).
        unwritten.extend(self.take_queued_messages());
        self.keep(self.me.as_ref(), unwritten).await;
        if let Some(me) = self.me.take() {
            if self.replaced {
                // Online on another node still: no NEWLOGOUT.
                self.ctx.hub.withdraw(&me.username, self.id);
            } else {
                self.ctx.hub.go_offline(&me.username, self.id);
            }
            if let Some(cluster) = self.ctx.cluster.as_ref() {
                cluster.release(&me.username).await;
            }
            let released = self
                .ctx
                .hub
                .release_token(&me.username, self.id, Instant::now());
            if let (Some(cluster), Some(token)) = (self.ctx.cluster.as_ref(), released) {
                let expires = requests::token_expiry(&self.ctx.hub);
                cluster
                    .put_token(&me.username, token.as_bytes(), Some(expires))
                    .await;
            }
            info!("{} logged out from {}", me.username, self.ip);
        }
        self.session.logout(Instant::now());
    }

    async fn finish(&mut self) {
        self.rx.close();
        self.ctx.hub.unregister_conn(self.id);
        // Relayed messages handed to the session but never written.
        // Those whose bytes all reached the socket before a write failed
        // count as written, as they would have without the failure.
        let written = self.written;
        self.settle_written(written);
        let unwritten: Vec<Relay> = self
            .inflight
            .drain(..)
            .filter(|(_, end, _)| *end > written)
            .map(|(_, _, r)| r)
            .collect();
        self.end_login_keeping(unwritten).await;
    }

    /// Empties this connection's queue: its messages are returned (to be
    /// stored), a kick or a stop closes the session, pushes meant for an
    /// ended session are dropped.
    fn take_queued_messages(&mut self) -> Vec<Relay> {
        let mut kept = Vec::new();
        while let Ok(out) = self.rx.try_recv() {
            match out {
                Outbound::Message(r) => kept.push(r),
                Outbound::Kick | Outbound::Shutdown => self.close_for(false),
                Outbound::Replaced => self.close_for(true),
                Outbound::Packet(_)
                | Outbound::Hook(_)
                | Outbound::SetPermission(_)
                | Outbound::Stored => {}
            }
        }
        kept
    }

    /// Whether relayed messages were handed to the session and not yet written.
    pub(crate) fn has_inflight(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// The username of the logged-in user.
    pub(crate) fn my_name(&self) -> Option<&Username> {
        self.me.as_ref().map(|m| &m.username)
    }
}

impl<R: Runtime> Driven for Connection<R> {
    type Event = Event;
    type Session = ServerSession;

    fn session(&self) -> &ServerSession {
        &self.session
    }

    fn session_mut(&mut self) -> &mut ServerSession {
        &mut self.session
    }

    async fn transmit<S: Stream>(&mut self, stream: &mut S) -> io::Result<()> {
        self.write_out(stream).await
    }

    async fn act(&mut self) -> bool {
        self.act_on_session().await
    }

    fn is_done(&self) -> bool {
        self.session.is_closed() || self.closing
    }

    fn before_wait(&mut self) {
        // Messages that went to the store while the queue was full come
        // back once it has drained.
        self.maybe_refill();
        self.session.release_buffers();
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        if let Poll::Ready(Some(out)) = self.rx.poll_next(cx) {
            return Poll::Ready(Event::Outbound(out));
        }
        match self.catchup.as_mut().and_then(|c| c.poll_page(cx)) {
            Some((page, limit)) => Poll::Ready(Event::Page(page, limit)),
            None => Poll::Pending,
        }
    }

    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Page(page, limit) => self.on_page(page, limit).await,
            Event::Outbound(out) => {
                self.on_outbound(out).await;
                for _ in 0..OUTBOUND_BUDGET {
                    match self.rx.try_recv() {
                        Ok(out) => self.on_outbound(out).await,
                        Err(_) => break,
                    }
                }
            }
        }
    }
}
