//! Catch-up: sending a user the messages stored for it, in pages, as RECIV
//! pushes.
//!
//! A catch-up starts on the user's RECIV request, or by itself when
//! messages went to the store because the connection's queue was full (the
//! peer is "spilling") and the queue has since drained. Pages are read in id
//! (sending) order; the next page is read while the current one is being
//! written, so the socket never waits for the database and at most two pages
//! are in memory. Only messages written to the socket are deleted, in
//! batches, by the writer task; a catch-up ends after its deletes ran, so a
//! later one never reads them again.
//!
//! A spilling catch-up ends only when a read found nothing new and no
//! spilled message was stored since that read began ([`Peer::end_spill`]);
//! then messages flow directly again, in order.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::Stream;
use gochat_proto::{ErrorCode, ServerCommand, Username};
use gochat_runtime::Runtime;
use tracing::warn;

use super::Connection;
use crate::core::Peer;
use crate::store::{StoreError, StoredMessage};
use crate::writer::Pending;

/// Stored messages in the first page. One read of 1024 takes a few
/// milliseconds and answers a typical backlog whole; a smaller first page
/// only adds a second round trip to the database before the last RECIV.
const FIRST_PAGE: u32 = 1024;

/// Stored messages in every later page.
const PAGE: u32 = 1024;

/// Written messages deleted together.
const DELETE_BATCH: usize = 256;

/// How long a catch-up that failed to read the store waits before a spilling
/// connection tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A page read from the store.
pub(crate) type Page = Result<Vec<StoredMessage>, StoreError>;

/// A catch-up in progress.
pub(crate) struct CatchUp {
    /// Highest stored id sent so far.
    last_id: i64,
    /// Stored ids written to the socket and not yet handed to a delete.
    written: Vec<i64>,
    /// Ids sent and not yet written, with the session's output position
    /// at the end of each (`ServerSession::queued_total`).
    sent: VecDeque<(i64, u64)>,
    /// Where the page being read arrives (read by a task of its own, so
    /// the socket is written meanwhile), and its size.
    fetch: Option<(Pin<Box<async_channel::Receiver<Page>>>, u32)>,
    /// The peer's spill mark taken before the last read began.
    spill_mark: u64,
    /// Waiting for spilled messages still being stored.
    awaiting_store: bool,
    /// The last delete handed to the writer.
    last_delete: Option<Pending>,
}

impl CatchUp {
    fn new() -> Self {
        CatchUp {
            last_id: 0,
            written: Vec::new(),
            sent: VecDeque::new(),
            fetch: None,
            spill_mark: 0,
            awaiting_store: false,
            last_delete: None,
        }
    }

    /// Moves sent ids to the written ones, oldest first, while `written`
    /// says so of the oldest (its id and the output position at its end).
    fn written_while(&mut self, written: impl Fn(&(i64, u64)) -> bool) {
        while self.sent.front().is_some_and(&written) {
            if let Some((id, _)) = self.sent.pop_front() {
                self.written.push(id);
            }
        }
    }

    /// Polls the page being read, if any: the page and the size asked for.
    pub(crate) fn poll_page(&mut self, cx: &mut Context<'_>) -> Option<(Page, u32)> {
        let (fetch, limit) = self.fetch.as_mut()?;
        let limit = *limit;
        match fetch.as_mut().poll_next(cx) {
            Poll::Ready(page) => {
                self.fetch = None;
                // A reader task that vanished without a page: as a failed read.
                let vanished = StoreError::Unexpected {
                    op: "read cached messages",
                    detail: "the reading task ended without an answer",
                };
                Some((page.unwrap_or(Err(vanished)), limit))
            }
            Poll::Pending => None,
        }
    }
}

/// Whether a spilling peer went back to direct delivery.
enum SpillEnd {
    /// It did: the catch-up is over.
    Ended,
    /// Spilled messages are still being stored: wait for them.
    Storing,
    /// Some were stored since the last read: read again.
    Stored,
}

fn end_spill(peer: &Peer, mark: u64) -> SpillEnd {
    if peer.end_spill(mark) {
        SpillEnd::Ended
    } else if peer.spill_mark() != mark {
        // Stored since the read began (its notice may have come meanwhile).
        SpillEnd::Stored
    } else {
        SpillEnd::Storing
    }
}

impl<R: Runtime> Connection<R> {
    /// RECIV: OK then the stored messages, or ERR EMPTY when there are none.
    pub(crate) async fn start_catch_up(&mut self, id: u16) -> Result<(), ErrorCode> {
        let me = self.me.clone().ok_or(ErrorCode::NoSess)?;
        if self.catchup.is_some() || me.is_spilling() {
            // A catch-up runs, or starts as soon as the queue has drained: it
            // sends everything.
            return self.reply(id, ServerCommand::Ok);
        }
        let page = self
            .ctx
            .store
            .pending_messages(me.user_id, 0, FIRST_PAGE)
            .await
            .map_err(|e| {
                warn!("catch-up of {} failed: {e}", me.username);
                ErrorCode::Server
            })?;
        if page.is_empty() {
            return Err(ErrorCode::Empty);
        }
        self.reply(id, ServerCommand::Ok)?;
        self.catchup = Some(CatchUp::new());
        self.on_page(Ok(page), FIRST_PAGE).await;
        Ok(())
    }

    fn reply(&mut self, id: u16, reply: ServerCommand) -> Result<(), ErrorCode> {
        // A closed session answers nothing; the connection is ending anyway.
        let _ = self.session.reply(id, &reply);
        Ok(())
    }

    /// Starts the catch-up of a spilling peer once everything queued for it
    /// has been written.
    pub(crate) fn maybe_refill(&mut self) {
        let Some(me) = self.me.clone() else { return };
        if self.catchup.is_some()
            || self.has_inflight()
            || self.refill_after.is_some_and(|t| Instant::now() < t)
            || !me.is_spilling()
            || me.queued_bytes() > 0
        {
            return;
        }
        self.refill_after = None;
        let mut cu = CatchUp::new();
        self.begin_fetch(&mut cu, &me, FIRST_PAGE);
        self.catchup = Some(cu);
    }

    /// Starts reading the page after the last id sent.
    fn begin_fetch(&self, cu: &mut CatchUp, me: &Arc<Peer>, limit: u32) {
        cu.spill_mark = me.spill_mark();
        let store = self.ctx.store.clone();
        let (user, after) = (me.user_id, cu.last_id);
        let (tx, rx) = async_channel::bounded(1);
        self.ctx.rt.spawn(async move {
            let _ = tx
                .send(store.pending_messages(user, after, limit).await)
                .await;
        });
        cu.fetch = Some((Box::pin(rx), limit));
    }

    /// A page arrived from the read started by `begin_fetch` (or the first
    /// page of a RECIV), read with `limit`.
    pub(crate) async fn on_page(&mut self, page: Page, limit: u32) {
        let (Some(mut cu), Some(me)) = (self.catchup.take(), self.me.clone()) else {
            return;
        };
        cu.fetch = None;
        match page {
            Err(e) => {
                warn!("catch-up of {} stopped: {e}", me.username);
                self.refill_after = Some(Instant::now() + RETRY_AFTER);
                self.catchup = Some(cu);
                self.end_catch_up().await;
                return;
            }
            Ok(page) => {
                let full = u32::try_from(page.len()).is_ok_and(|n| n >= limit);
                self.send_page(&mut cu, page);
                if full {
                    self.begin_fetch(&mut cu, &me, PAGE);
                }
            }
        }
        self.catchup = Some(cu);
        self.check_done().await;
    }

    fn send_page(&mut self, cu: &mut CatchUp, page: Vec<StoredMessage>) {
        for m in page {
            cu.last_id = cu.last_id.max(m.id);
            let Ok(sender) = Username::parse(m.sender.as_bytes()) else {
                warn!("stored message {} has an invalid sender name", m.id);
                continue;
            };
            let reciv = ServerCommand::Reciv {
                sender,
                stamp: m.stamp,
                ciphertext: Bytes::from(m.ciphertext),
            };
            if self.session.send(&reciv).is_ok() {
                self.session.push_marker(u64::try_from(m.id).unwrap_or(0));
                cu.sent.push_back((m.id, self.session.queued_total()));
            }
        }
    }

    /// A stored message was written to the socket.
    pub(crate) async fn catch_up_written(&mut self, id: i64) {
        let Some(cu) = self.catchup.as_mut() else {
            return;
        };
        cu.written_while(|&(sent, _)| sent <= id);
        if cu.written.len() >= DELETE_BATCH {
            self.hand_deletes().await;
        }
        self.check_done().await;
    }

    /// Hands the written ids to the writer for deletion.
    async fn hand_deletes(&mut self) {
        let (Some(cu), Some(me)) = (self.catchup.as_mut(), self.me.as_ref()) else {
            return;
        };
        if cu.written.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut cu.written);
        cu.last_delete = Some(self.ctx.writer.delete(me.user_id, ids).await);
    }

    /// Ends the catch-up once everything read was written and nothing more
    /// is to be read.
    async fn check_done(&mut self) {
        let Some(cu) = self.catchup.as_mut() else {
            return;
        };
        if !cu.sent.is_empty() || cu.fetch.is_some() || cu.awaiting_store {
            return;
        }
        let Some(me) = self.me.clone() else {
            self.end_catch_up().await;
            return;
        };
        if !me.is_spilling() {
            self.end_catch_up().await;
            return;
        }
        match end_spill(&me, cu.spill_mark) {
            SpillEnd::Ended => self.end_catch_up().await,
            SpillEnd::Storing => cu.awaiting_store = true,
            SpillEnd::Stored => {
                let mut cu = self.catchup.take().unwrap_or_else(CatchUp::new);
                self.begin_fetch(&mut cu, &me, PAGE);
                self.catchup = Some(cu);
            }
        }
    }

    /// Spilled messages were stored: read what is stored so far if the
    /// catch-up waits (senders that go on spilling keep `storing` above 0, so
    /// the catch-up cannot wait for it to fall to 0).
    pub(crate) fn on_stored(&mut self) {
        let Some(me) = self.me.clone() else { return };
        me.take_stored_notice();
        if let Some(mut cu) = self.catchup.take() {
            if cu.awaiting_store && cu.fetch.is_none() {
                cu.awaiting_store = false;
                self.begin_fetch(&mut cu, &me, PAGE);
            }
            self.catchup = Some(cu);
        }
    }

    /// The connection is ending with `written` bytes of the session's output
    /// written: stored messages whose bytes all went out count as written
    /// (and are deleted), though their write events were not handled.
    pub(crate) fn settle_written(&mut self, written: u64) {
        let Some(cu) = self.catchup.as_mut() else {
            return;
        };
        cu.written_while(|&(_, end)| end <= written);
    }

    /// Ends the catch-up: deletes what was written and waits for the deletes.
    pub(crate) async fn end_catch_up(&mut self) {
        self.hand_deletes().await;
        if let Some(cu) = self.catchup.take()
            && let Some(last) = cu.last_delete
        {
            last.wait().await;
        }
    }
}
