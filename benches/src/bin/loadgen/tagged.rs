//! Messages that can be told apart, for the modes that count every message
//! (`slowreader`, `catchup`): each ciphertext starts with a tag naming its
//! sender and sequence number, so that a reader can report exactly which
//! OK'd messages it never got and which it got twice.
//!
//! - [`Tagged`]: a MSG encoded once, patched per send with its id and tag.
//! - [`Sender`]: a logged-in client that sends tagged MSGs with a window of
//!   unanswered ones and records which sequence numbers were OK'd.
//! - [`Inbox`] and [`collect`]: a reader that asks for its stored messages
//!   (RECIV) and classifies every RECIV it gets against the OK'd ones.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use gochat_proto::header::{MAX_ARG_LEN, MAX_ID};
use gochat_proto::{Action, ClientCommand, Decoder, Direction, ErrorCode, Packet, Username};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, timeout_at};

use crate::client::{Conn, MsgFrame, take_more, username};
use crate::{Result, err};

/// Bytes of the tag at the start of every ciphertext: the sender's index
/// and the sequence number, 8 hexadecimal digits each (no CR or LF, as the
/// original's clients send).
pub const TAG_LEN: usize = 16;
/// The largest ciphertext a MSG argument can carry.
pub const MAX_SIZE: usize = MAX_ARG_LEN;

/// Checks a `--size`.
pub fn check_size(size: usize) -> Result<()> {
    if (TAG_LEN..=MAX_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(err(format!(
            "--size must be {TAG_LEN} to {MAX_SIZE} bytes (the tag takes {TAG_LEN})"
        )))
    }
}

/// Unix seconds now, for MSG stamps.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1_764_000_000, |d| {
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
        })
}

fn write_tag(dst: &mut [u8], sender: u32, seq: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let value = (u64::from(sender) << 32) | u64::from(seq);
    for (i, byte) in dst[..TAG_LEN].iter_mut().enumerate() {
        let shift = 4 * (TAG_LEN - 1 - i);
        *byte = HEX[((value >> shift) & 0xF) as usize];
    }
}

/// The `(sender, seq)` of a tagged ciphertext.
pub fn read_tag(ciphertext: &[u8]) -> Option<(u32, u32)> {
    let tag = ciphertext.get(..TAG_LEN)?;
    let mut value: u64 = 0;
    for &c in tag {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u64::from(digit);
    }
    Some(((value >> 32) as u32, value as u32))
}

/// `MSG <to> <stamp> <size bytes>`, encoded once.
pub struct Tagged(MsgFrame);

impl Tagged {
    /// The MSG to `to`, its ciphertext `size` bytes without CRLF.
    pub fn new(to: &Username, stamp: i64, size: usize, seed: u64) -> Result<Tagged> {
        check_size(size)?;
        let ciphertext = gochat_benches::codec::no_crlf_bytes(seed, size);
        MsgFrame::new(to, stamp, &ciphertext).map(Tagged)
    }

    /// Wire size of one MSG.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Appends the MSG with packet id `id` and the tag `(sender, seq)`.
    pub fn append(&self, out: &mut BytesMut, id: u16, sender: u32, seq: u32) {
        write_tag(self.0.append(out, id), sender, seq);
    }
}

/// A growable set of sequence numbers.
#[derive(Debug, Default, Clone)]
pub struct Bits {
    words: Vec<u64>,
    count: u64,
}

impl Bits {
    /// Adds `i`; whether it was new.
    pub fn insert(&mut self, i: u32) -> bool {
        let (word, bit) = ((i / 64) as usize, i % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        if self.words[word] & mask != 0 {
            return false;
        }
        self.words[word] |= mask;
        self.count += 1;
        true
    }

    /// Whether `i` is in.
    pub fn contains(&self, i: u32) -> bool {
        self.words
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }
}

/// Counters read by the once-a-second progress lines while the work runs.
#[derive(Debug, Default)]
pub struct Live {
    /// OKs to MSGs.
    pub oks: AtomicU64,
    /// ERRs to MSGs.
    pub errors: AtomicU64,
    /// Distinct tagged RECIVs the reader got.
    pub received: AtomicU64,
}

/// ERR codes and their counts, as `ERR_NAME xN` pairs.
pub fn describe_errors(errors: &BTreeMap<u8, u64>) -> String {
    let mut out = String::new();
    for (code, n) in errors {
        if !out.is_empty() {
            out.push_str(", ");
        }
        let name = ErrorCode::from_code(*code).map_or("ERR_?", ErrorCode::name);
        let _ = write!(out, "{name} (0x{code:02x}) x{n}");
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

/// The server's packets on one connection, decoded.
pub struct Inbox {
    read: OwnedReadHalf,
    decoder: Decoder,
    /// The server closed (or reset) the connection.
    pub closed: bool,
}

impl Inbox {
    /// Reads from `read`, starting with the bytes already read (`leftover`).
    pub fn new(read: OwnedReadHalf, leftover: &[u8]) -> Inbox {
        let mut decoder = Decoder::new(Direction::ToClient);
        decoder.feed(leftover);
        Inbox {
            read,
            decoder,
            closed: false,
        }
    }

    /// The next packet; `None` when `until` comes first. An error when the
    /// server closes the connection or sends something undecodable.
    pub async fn next(&mut self, until: Instant) -> Result<Option<Packet>> {
        loop {
            if let Some(packet) = self.decoder.decode()? {
                return Ok(Some(packet));
            }
            let buf = self.decoder.buffer_mut();
            if buf.capacity() - buf.len() < 16 * 1024 {
                buf.reserve(64 * 1024);
            }
            match timeout_at(until, self.read.read_buf(buf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => {
                    self.closed = true;
                    return Err(err("the server closed the connection"));
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    if e.kind() == std::io::ErrorKind::ConnectionReset {
                        self.closed = true;
                    }
                    return Err(e.into());
                }
            }
        }
    }
}

/// Splits a logged-in connection into its inbox and its write half.
pub fn split(conn: Conn) -> (Inbox, OwnedWriteHalf) {
    let (stream, leftover) = conn.into_parts();
    let (read, write) = stream.into_split();
    (Inbox::new(read, &leftover), write)
}

/// Writes one client command.
pub async fn send_command(
    write: &mut OwnedWriteHalf,
    command: &ClientCommand,
    id: u16,
) -> Result<()> {
    let mut out = BytesMut::new();
    command.encode(id, &mut out)?;
    write.write_all(&out).await?;
    Ok(())
}

/// What one [`Sender::send`] did.
#[derive(Debug, Default, Clone)]
pub struct SendStats {
    /// MSGs written.
    pub sent: u64,
    /// OKs.
    pub oks: u64,
    /// ERRs by code.
    pub errors: BTreeMap<u8, u64>,
    /// MSGs with no answer when the sender gave up waiting.
    pub unanswered: u64,
    /// Why it stopped early, if it did.
    pub failure: Option<String>,
}

impl SendStats {
    /// Adds `other` to these.
    pub fn add(&mut self, other: &SendStats) {
        self.sent += other.sent;
        self.oks += other.oks;
        for (code, n) in &other.errors {
            *self.errors.entry(*code).or_default() += n;
        }
        self.unanswered += other.unanswered;
        if self.failure.is_none() {
            self.failure.clone_from(&other.failure);
        }
    }
}

/// How a [`Sender::send`] ends.
pub struct Until {
    /// Stop after this many MSGs.
    pub limit: Option<u64>,
    /// Stop writing when this turns true.
    pub stop: watch::Receiver<bool>,
    /// After the last MSG is written, wait this long for the answers.
    pub answers: Duration,
}

/// A logged-in client that sends tagged MSGs.
pub struct Sender {
    /// Its index (user `u<index>`), written in every tag.
    pub index: u32,
    inbox: Inbox,
    write: Option<OwnedWriteHalf>,
    template: Arc<Tagged>,
    /// The next sequence number (the first is 1).
    next_seq: u32,
    next_id: u16,
    /// The sequence numbers that were OK'd.
    pub acked: Bits,
}

impl Sender {
    /// A sender on a logged-in connection of user `u<index>`.
    pub fn new(index: u32, conn: Conn, template: Tagged) -> Sender {
        let (inbox, write) = split(conn);
        Sender {
            index,
            inbox,
            write: Some(write),
            template: Arc::new(template),
            next_seq: 1,
            next_id: 0,
            acked: Bits::default(),
        }
    }

    /// Sends MSGs with at most `window` unanswered until `until` says stop,
    /// then waits for the answers. A sender whose writes were still blocked
    /// when it stopped waiting cannot send again.
    pub async fn send(&mut self, window: usize, until: Until, live: &Live) -> SendStats {
        let mut stats = SendStats::default();
        let Some(write) = self.write.take() else {
            stats.failure = Some("this sender's connection is unusable".to_owned());
            return stats;
        };
        let window = window.clamp(1, usize::from(MAX_ID));
        let permits = Arc::new(Semaphore::new(window));
        // The sequence number of each packet id in flight: an id is reused
        // only after its answer released its permit.
        let seqs: Arc<Vec<AtomicU32>> = Arc::new((0..=MAX_ID).map(|_| AtomicU32::new(0)).collect());
        let written = Arc::new(AtomicU64::new(0));
        let writer_done = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn(write_msgs(
            write,
            Arc::clone(&self.template),
            WriteState {
                sender: self.index,
                next_seq: self.next_seq,
                next_id: self.next_id,
                limit: until.limit,
                window,
            },
            until.stop,
            Arc::clone(&permits),
            Arc::clone(&seqs),
            Arc::clone(&written),
            Arc::clone(&writer_done),
        ));
        let mut answered: u64 = 0;
        let mut answers_by: Option<Instant> = None;
        loop {
            let done = writer_done.load(Ordering::Acquire);
            if done && answered >= written.load(Ordering::Acquire) {
                break;
            }
            if done && answers_by.is_none() {
                answers_by = Some(Instant::now() + until.answers);
            }
            if answers_by.is_some_and(|by| Instant::now() >= by) {
                break;
            }
            let packet = match self
                .inbox
                .next(Instant::now() + Duration::from_millis(20))
                .await
            {
                Ok(Some(packet)) => packet,
                Ok(None) => continue,
                Err(e) => {
                    stats.failure = Some(e.to_string());
                    break;
                }
            };
            match packet.action() {
                Action::Ok if packet.id() != 0 => {
                    let seq = seqs[usize::from(packet.id())].load(Ordering::Acquire);
                    self.acked.insert(seq);
                    stats.oks += 1;
                    answered += 1;
                    live.oks.fetch_add(1, Ordering::Relaxed);
                    permits.add_permits(1);
                }
                Action::Err if packet.id() != 0 => {
                    *stats.errors.entry(packet.info()).or_default() += 1;
                    answered += 1;
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    permits.add_permits(1);
                }
                Action::Err => {
                    stats.failure = Some(format!(
                        "the server sent ERR 0x{:02x} with the null id",
                        packet.info()
                    ));
                    break;
                }
                _ => {}
            }
        }
        stats.sent = written.load(Ordering::Acquire);
        stats.unanswered = stats.sent.saturating_sub(answered);
        if !writer.is_finished() {
            writer.abort();
        }
        match writer.await {
            Ok((write, state, result)) => {
                self.next_seq = state.next_seq;
                self.next_id = state.next_id;
                if stats.failure.is_none() && stats.unanswered == 0 {
                    self.write = Some(write);
                }
                if let Err(e) = result {
                    stats.failure.get_or_insert(format!("write: {e}"));
                }
            }
            Err(_) => {
                stats
                    .failure
                    .get_or_insert("the writes were still blocked when the sender stopped".into());
            }
        }
        if stats.unanswered > 0 && stats.failure.is_none() {
            stats.failure = Some(format!(
                "{} MSGs unanswered {} s after the last write",
                stats.unanswered,
                until.answers.as_secs()
            ));
        }
        stats
    }
}

/// Where a writer starts and when it stops.
#[derive(Clone, Copy)]
struct WriteState {
    sender: u32,
    next_seq: u32,
    next_id: u16,
    limit: Option<u64>,
    window: usize,
}

/// Writes MSGs as permits allow (every available permit at once) until
/// the limit or the stop signal; gives back the write half and where the
/// numbering stopped.
#[allow(clippy::too_many_arguments)]
async fn write_msgs(
    mut write: OwnedWriteHalf,
    template: Arc<Tagged>,
    mut state: WriteState,
    mut stop: watch::Receiver<bool>,
    permits: Arc<Semaphore>,
    seqs: Arc<Vec<AtomicU32>>,
    written: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
) -> (OwnedWriteHalf, WriteState, Result<()>) {
    let result = async {
        let mut out = BytesMut::with_capacity(template.len() * state.window);
        let mut total: u64 = 0;
        loop {
            if *stop.borrow() || state.limit.is_some_and(|l| total >= l) {
                return Ok(());
            }
            let permit = tokio::select! {
                p = permits.acquire() => p?,
                changed = stop.changed() => {
                    if changed.is_err() {
                        // Nobody can say stop any more: stop now.
                        return Ok(());
                    }
                    continue;
                }
            };
            permit.forget();
            let room = state.limit.map_or(state.window, |l| {
                (l - total).min(state.window as u64) as usize
            });
            let batch = take_more(&permits, room);
            out.clear();
            for _ in 0..batch {
                state.next_id = state.next_id % MAX_ID + 1;
                seqs[usize::from(state.next_id)].store(state.next_seq, Ordering::Release);
                template.append(&mut out, state.next_id, state.sender, state.next_seq);
                state.next_seq = state.next_seq.wrapping_add(1);
            }
            // Counted before the write completes: the answers may come
            // before write_all returns.
            written.fetch_add(batch as u64, Ordering::Release);
            total += batch as u64;
            write.write_all(&out).await?;
        }
    }
    .await;
    done.store(true, Ordering::Release);
    (write, state, result)
}

/// What a reader got, classified against the OK'd messages.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// Tagged RECIVs, duplicates included.
    pub recivs: u64,
    /// Distinct OK'd messages received.
    pub acked_received: u64,
    /// Distinct messages received that were never OK'd (unanswered or
    /// ERR'd MSGs that were delivered anyway).
    pub unacked_received: u64,
    /// RECIVs of a message already received.
    pub duplicates: u64,
    /// RECIVs without a tag of one of the senders.
    pub foreign: u64,
    /// When the first RECIV came.
    pub first_at: Option<Instant>,
    /// When the last RECIV came.
    pub last_at: Option<Instant>,
    /// When the last OK'd message still missing came.
    pub complete_at: Option<Instant>,
    /// When the answer to the first RECIV request came.
    pub first_answer_at: Option<Instant>,
    /// RECIV requests written.
    pub requests: u32,
    /// Their answers: OK, ERR EMPTY, other ERRs by code.
    pub request_oks: u32,
    /// ERR EMPTY answers.
    pub request_empty: u32,
    /// Other ERR answers, by code.
    pub request_errors: BTreeMap<u8, u64>,
    /// Whether it stopped because nothing came for the quiet time.
    pub went_quiet: bool,
    /// Whether it stopped because the server closed the connection.
    pub closed: bool,
    /// An ERR with the null id the server sent the reader.
    pub server_error: Option<u8>,
}

/// The OK'd messages a reader expects, by sender index.
pub struct Expected<'a> {
    /// `acked[i]`: the sequence numbers OK'd for sender `u<i>` (absent
    /// senders are empty).
    pub acked: &'a [&'a Bits],
    /// How many in all.
    pub total: u64,
}

/// The reader's view of what it got so far.
pub struct Tally {
    seen: Vec<Bits>,
    /// The classification.
    pub received: Received,
}

impl Tally {
    /// Nothing received yet.
    pub fn new(senders: usize) -> Tally {
        Tally {
            seen: vec![Bits::default(); senders],
            received: Received::default(),
        }
    }

    /// Classifies one RECIV; whether it was a new tagged message.
    pub fn record(&mut self, packet: &Packet, expected: &Expected<'_>, now: Instant) -> bool {
        let r = &mut self.received;
        r.recivs += 1;
        r.first_at.get_or_insert(now);
        r.last_at = Some(now);
        let tag = packet.arg_slice(2).and_then(read_tag);
        let from = packet.arg_slice(0);
        let Some((sender, seq)) = tag.filter(|(sender, _)| {
            (*sender as usize) < self.seen.len()
                && username(*sender as usize).is_ok_and(|u| from == Some(u.as_bytes()))
        }) else {
            r.foreign += 1;
            return false;
        };
        if !self.seen[sender as usize].insert(seq) {
            r.duplicates += 1;
            return false;
        }
        let acked = expected
            .acked
            .get(sender as usize)
            .is_some_and(|b| b.contains(seq));
        if acked {
            r.acked_received += 1;
            if r.acked_received == expected.total {
                r.complete_at = Some(now);
            }
        } else {
            r.unacked_received += 1;
        }
        true
    }

    /// OK'd messages never received.
    pub fn lost(&self, expected: &Expected<'_>) -> u64 {
        expected.total.saturating_sub(self.received.acked_received)
    }
}

/// How [`collect`] asks and when it stops.
pub struct Collect {
    /// Write a RECIV request first.
    pub request_first: bool,
    /// With OK'd messages missing and no request unanswered, ask again
    /// after this long without a RECIV (the server may have stored more, or
    /// a catch-up may end early).
    pub ask_again: Duration,
    /// Stop after this long without a RECIV.
    pub quiet: Duration,
    /// Packet ids of the requests start here.
    pub first_id: u16,
}

/// Reads RECIVs into `tally` until every expected message came, none came
/// for `how.quiet` or the server closed the connection, asking with RECIV as
/// `how` says.
pub async fn collect(
    inbox: &mut Inbox,
    write: &mut OwnedWriteHalf,
    expected: &Expected<'_>,
    tally: &mut Tally,
    how: &Collect,
    live: &Live,
) -> Result<()> {
    let mut next_id = how.first_id.max(1);
    let mut pending: Option<u16> = None;
    let started = Instant::now();
    // Quiet is counted from the last RECIV; asking again from the last
    // RECIV or answer to a request.
    let mut last_reciv = started;
    let mut last_answer = started;
    if how.request_first {
        send_command(write, &ClientCommand::Reciv, next_id).await?;
        tally.received.requests += 1;
        pending = Some(next_id);
        next_id = next_id % MAX_ID + 1;
    }
    loop {
        if tally.received.acked_received >= expected.total && expected.total > 0 {
            return Ok(());
        }
        let now = Instant::now();
        if now >= last_reciv + how.quiet {
            tally.received.went_quiet = true;
            return Ok(());
        }
        if pending.is_none() && now >= last_reciv.max(last_answer) + how.ask_again {
            send_command(write, &ClientCommand::Reciv, next_id).await?;
            tally.received.requests += 1;
            pending = Some(next_id);
            next_id = next_id % MAX_ID + 1;
        }
        let wake = (now + Duration::from_millis(100)).min(last_reciv + how.quiet);
        let packet = match inbox.next(wake).await {
            Ok(Some(packet)) => packet,
            Ok(None) => continue,
            Err(_) if inbox.closed => {
                tally.received.closed = true;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        match packet.action() {
            Action::Reciv if packet.id() == 0 => {
                last_reciv = now;
                if tally.record(&packet, expected, now) {
                    live.received.fetch_add(1, Ordering::Relaxed);
                }
            }
            Action::Ok | Action::Err if pending == Some(packet.id()) => {
                pending = None;
                last_answer = now;
                let r = &mut tally.received;
                r.first_answer_at.get_or_insert(now);
                match (packet.action(), ErrorCode::from_code(packet.info())) {
                    (Action::Ok, _) => r.request_oks += 1,
                    (_, Some(ErrorCode::Empty)) => r.request_empty += 1,
                    _ => *r.request_errors.entry(packet.info()).or_default() += 1,
                }
            }
            Action::Err if packet.id() == 0 => {
                // The server closes the connection after this (ERR IDLE,
                // for one): the end of the stream says so.
                tally.received.server_error = Some(packet.info());
            }
            _ => {}
        }
    }
}

/// LOGOUT with packet id `id`, reading (and classifying) what comes before
/// its answer. The user is offline once the OK is read.
pub async fn logout(
    inbox: &mut Inbox,
    write: &mut OwnedWriteHalf,
    expected: &Expected<'_>,
    tally: &mut Tally,
    id: u16,
) -> Result<()> {
    send_command(write, &ClientCommand::Logout, id).await?;
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let Some(packet) = inbox.next(until).await? else {
            return Err(err("no answer to LOGOUT within 60 s"));
        };
        match packet.action() {
            Action::Reciv if packet.id() == 0 => {
                tally.record(&packet, expected, Instant::now());
            }
            Action::Ok if packet.id() == id => return Ok(()),
            Action::Err if packet.id() == id || packet.id() == 0 => {
                return Err(err(format!("LOGOUT: ERR 0x{:02x}", packet.info())));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_without_crlf() {
        for (sender, seq) in [(0, 0), (1, 1), (7, 123_456), (u32::MAX, u32::MAX)] {
            let mut tag = [0u8; TAG_LEN];
            write_tag(&mut tag, sender, seq);
            assert!(!tag.contains(&b'\r') && !tag.contains(&b'\n'));
            assert_eq!(read_tag(&tag), Some((sender, seq)));
        }
        assert_eq!(read_tag(b"0000000100000002"), Some((1, 2)));
        assert_eq!(read_tag(b"000000010000000"), None);
        assert_eq!(read_tag(b"000000010000000G"), None);
    }

    #[test]
    fn tagged_msgs_decode_with_their_tag() {
        let to = username(0).unwrap();
        let template = Tagged::new(&to, 1_764_000_000, 100, 3).unwrap();
        let mut out = BytesMut::new();
        template.append(&mut out, 5, 2, 41);
        template.append(&mut out, 6, 2, 42);
        assert_eq!(out.len(), 2 * template.len());
        let mut decoder = Decoder::new(Direction::ToServer);
        decoder.feed(&out);
        for (id, seq) in [(5, 41), (6, 42)] {
            let packet = decoder.decode().unwrap().unwrap();
            assert_eq!(packet.id(), id);
            let ClientCommand::Msg {
                to: got,
                ciphertext,
                ..
            } = ClientCommand::from_packet(&packet).unwrap()
            else {
                panic!("not a MSG");
            };
            assert_eq!(got, to);
            assert_eq!(ciphertext.len(), 100);
            assert!(!gochat_proto::crypto::contains_crlf(&ciphertext));
            assert_eq!(read_tag(&ciphertext), Some((2, seq)));
        }
        assert!(Tagged::new(&to, 1, TAG_LEN - 1, 0).is_err());
        assert!(Tagged::new(&to, 1, MAX_SIZE, 0).is_ok());
    }

    #[test]
    fn bits_count_each_number_once() {
        let mut bits = Bits::default();
        assert!(bits.insert(3));
        assert!(!bits.insert(3));
        assert!(bits.insert(1000));
        assert!(bits.contains(1000) && bits.contains(3) && !bits.contains(4));
        assert_eq!(bits.count, 2);
    }
}
