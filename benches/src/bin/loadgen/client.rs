//! The loader's clients: connecting (with a real REG + challenge login on
//! gochat), then the windowed MSG exchange that records latencies.
//!
//! Client `i` talks to client `i ^ 1`. Each keeps at most `window` MSGs
//! written and not yet answered (OK or ERR). The first 16 bytes of every
//! 512-byte ciphertext hold the send time (ns since the run's start, LE), the
//! sender's index and a sequence number; the receiver takes the time from the
//! RECIV (gochat) or the forwarded MSG (relay) and records
//! `read time - send time`. Both targets get the same frames and the reader
//! does the same work for both, so their rates compare.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use gochat_proto::crypto::{self, CIPHERTEXT_LEN};
use gochat_proto::header::{HEADER_FRAME_LEN, HEADER_LEN, MAX_ID, VERSION};
use gochat_proto::{
    Action, ClientCommand, Decoder, Direction, EMPTY_INFO, Header, ServerCommand, Username,
    encode_into, encode_stamp,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep_until, timeout};

use crate::keys::UserKey;
use crate::report::Latencies;
use crate::{Result, err};

/// Longest wait for any one reply during setup.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// Read buffer size of a loaded client.
const READ_BUF: usize = 16 * 1024;
/// How long a client whose MSGs are all answered waits for more RECIVs.
const LINGER: Duration = Duration::from_millis(500);

/// A connected (and, on gochat, logged-in) client, ready for the load.
pub struct Conn {
    stream: TcpStream,
    /// Bytes read past the last setup reply.
    leftover: BytesMut,
}

/// The name of client `index`.
pub fn username(index: usize) -> Result<Username> {
    Ok(Username::new(&format!("u{index}"))?)
}

impl Conn {
    /// The stream and the bytes already read from it past the last reply.
    pub fn into_parts(self) -> (TcpStream, BytesMut) {
        (self.stream, self.leftover)
    }
}

/// A plain connection (the relay sends no HELLO).
pub async fn connect_plain(port: u16) -> Result<Conn> {
    let stream = timeout(REPLY_TIMEOUT, TcpStream::connect(("127.0.0.1", port))).await??;
    stream.set_nodelay(true)?;
    Ok(Conn {
        stream,
        leftover: BytesMut::new(),
    })
}

/// Connects and reads the HELLO.
pub async fn connect_hello(port: u16) -> Result<(TcpStream, Decoder)> {
    let mut stream = timeout(REPLY_TIMEOUT, TcpStream::connect(("127.0.0.1", port))).await??;
    stream.set_nodelay(true)?;
    let mut decoder = Decoder::new(Direction::ToClient);
    match next_command(&mut stream, &mut decoder).await? {
        ServerCommand::Hello { .. } => Ok((stream, decoder)),
        other => Err(err(format!("expected HELLO, got {other:?}"))),
    }
}

/// Connects and reads the HELLO; the connection then stays idle.
pub async fn connect_idle(port: u16) -> Result<Conn> {
    let (stream, mut decoder) = connect_hello(port).await?;
    Ok(Conn {
        stream,
        leftover: decoder.buffer_mut().split(),
    })
}

/// Connects, registers user `u<index>` with `user`'s public key and logs in
/// with the challenge (LOGIN -> VERIF -> decrypt -> VERIF -> OK).
pub async fn login(port: u16, index: usize, user: UserKey) -> Result<Conn> {
    let (mut stream, mut decoder) = connect_hello(port).await?;
    register_on(&mut stream, &mut decoder, index, &user).await?;
    match challenge_login(&mut stream, &mut decoder, index, &user).await? {
        Ok(()) => Ok(Conn {
            stream,
            leftover: decoder.buffer_mut().split(),
        }),
        Err(refusal) => Err(err(format!("LOGIN u{index}: got {refusal:?}"))),
    }
}

/// Registers user `u<index>` on a connection of its own, which is closed
/// without logging in.
pub async fn register(port: u16, index: usize, user: &UserKey) -> Result<()> {
    let (mut stream, mut decoder) = connect_hello(port).await?;
    register_on(&mut stream, &mut decoder, index, user).await
}

/// Logs the registered user `u<index>` in on a new connection. The
/// server's answer to LOGIN comes back as `Ok(Err(..))` when it is not a
/// challenge (ERR DUPSESS while another session of the user lasts).
pub async fn log_in(
    port: u16,
    index: usize,
    user: &UserKey,
) -> Result<std::result::Result<Conn, ServerCommand>> {
    let (mut stream, mut decoder) = connect_hello(port).await?;
    Ok(
        match challenge_login(&mut stream, &mut decoder, index, user).await? {
            Ok(()) => Ok(Conn {
                stream,
                leftover: decoder.buffer_mut().split(),
            }),
            Err(refusal) => Err(refusal),
        },
    )
}

async fn register_on(
    stream: &mut TcpStream,
    decoder: &mut Decoder,
    index: usize,
    user: &UserKey,
) -> Result<()> {
    let reg = ClientCommand::Reg {
        username: username(index)?,
        pubkey: Bytes::from(user.public_pem.clone()),
    };
    // A database kept from an earlier run (or round) already has the user,
    // with the same derived key: its login works as well.
    match send_and_read(stream, decoder, &reg, 1).await? {
        ServerCommand::Ok | ServerCommand::Err(gochat_proto::ErrorCode::Exists) => Ok(()),
        other => Err(err(format!("REG: got {other:?}"))),
    }
}

/// LOGIN, then VERIF with the decrypted challenge; `Err` holds the answer
/// to LOGIN when it is not a challenge.
async fn challenge_login(
    stream: &mut TcpStream,
    decoder: &mut Decoder,
    index: usize,
    user: &UserKey,
) -> Result<std::result::Result<(), ServerCommand>> {
    let name = username(index)?;
    let challenge = match send_and_read(
        stream,
        decoder,
        &ClientCommand::Login {
            username: name.clone(),
        },
        2,
    )
    .await?
    {
        ServerCommand::Verif { challenge } => challenge,
        other => return Ok(Err(other)),
    };
    let key = user.key.clone();
    let answer = tokio::task::spawn_blocking(move || {
        crypto::decrypt(&key, &mut getrandom::SysRng, &challenge)
    })
    .await??;
    let verif = ClientCommand::Verif {
        username: name,
        answer: Bytes::from(answer),
    };
    request(stream, decoder, &verif, 3, "VERIF").await?;
    Ok(Ok(()))
}

async fn request(
    stream: &mut TcpStream,
    decoder: &mut Decoder,
    command: &ClientCommand,
    id: u16,
    what: &str,
) -> Result<()> {
    match send_and_read(stream, decoder, command, id).await? {
        ServerCommand::Ok => Ok(()),
        other => Err(err(format!("{what}: got {other:?}"))),
    }
}

async fn send_and_read(
    stream: &mut TcpStream,
    decoder: &mut Decoder,
    command: &ClientCommand,
    id: u16,
) -> Result<ServerCommand> {
    let mut out = BytesMut::new();
    command.encode(id, &mut out)?;
    stream.write_all(&out).await?;
    next_command(stream, decoder).await
}

/// The next packet from the server, typed; times out after a minute.
pub async fn next_command(stream: &mut TcpStream, decoder: &mut Decoder) -> Result<ServerCommand> {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        if let Some(packet) = decoder.decode()? {
            return Ok(ServerCommand::from_packet(&packet)?);
        }
        let buf = decoder.buffer_mut();
        buf.reserve(4096);
        let n = tokio::time::timeout_at(deadline, stream.read_buf(buf))
            .await
            .map_err(|_| err("no reply within 60 s"))??;
        if n == 0 {
            return Err(err("the server closed the connection"));
        }
    }
}

/// `MSG <to> <stamp> <ciphertext>`, encoded once; each copy appended gets
/// its own packet id, and its ciphertext can be patched.
pub struct MsgFrame {
    frame: Vec<u8>,
    ciphertext_at: usize,
}

impl MsgFrame {
    /// The MSG to `to` stamped `stamp` carrying `ciphertext`.
    pub fn new(to: &Username, stamp: i64, ciphertext: &[u8]) -> Result<MsgFrame> {
        let mut frame = BytesMut::new();
        encode_into(
            &mut frame,
            Action::Msg,
            EMPTY_INFO,
            1,
            &[to.as_bytes(), &encode_stamp(stamp), ciphertext],
        )?;
        let ciphertext_at = frame.len() - 2 - ciphertext.len();
        Ok(MsgFrame {
            frame: frame.to_vec(),
            ciphertext_at,
        })
    }

    /// Wire size of one MSG.
    pub fn len(&self) -> usize {
        self.frame.len()
    }

    /// Appends the MSG with packet id `id` to `out`; returns its ciphertext
    /// and CRLF, to patch.
    pub fn append<'a>(&self, out: &'a mut BytesMut, id: u16) -> &'a mut [u8] {
        let start = out.len();
        out.extend_from_slice(&self.frame);
        let frame = &mut out[start..];
        let mut word = [0u8; HEADER_LEN];
        word.copy_from_slice(&frame[..HEADER_LEN]);
        let mut header = Header::from_bytes(word);
        header.id = id;
        frame[..HEADER_LEN].copy_from_slice(&header.to_bytes());
        &mut frame[self.ciphertext_at..]
    }
}

/// The MSG a client sends, encoded once; each send patches the id and the
/// first 16 ciphertext bytes.
pub struct Template(MsgFrame);

impl Template {
    /// `MSG <to> <stamp> <512 bytes>`, the bytes made from `seed`.
    pub fn new(to: &Username, stamp: i64, seed: u64) -> Result<Template> {
        MsgFrame::new(to, stamp, &filler(seed)).map(Template)
    }

    /// Wire size of one MSG.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn append(&self, out: &mut BytesMut, id: u16, sent_ns: u64, sender: u32, seq: u32) {
        let stamp = &mut self.0.append(out, id)[..16];
        stamp[..8].copy_from_slice(&sent_ns.to_le_bytes());
        stamp[8..12].copy_from_slice(&sender.to_le_bytes());
        stamp[12..].copy_from_slice(&seq.to_le_bytes());
    }
}

/// 512 arbitrary bytes with no CRLF (what an original-compatible client
/// sends; our server would accept CRLF in the last argument too).
fn filler(seed: u64) -> Vec<u8> {
    gochat_benches::codec::no_crlf_bytes(seed, CIPHERTEXT_LEN)
}

/// With one permit of `permits` taken, takes more without waiting, up to
/// `most` in all; returns how many are taken (at least 1). They are
/// forgotten: the replies give them back.
pub fn take_more(permits: &Semaphore, most: usize) -> usize {
    let mut batch = 1;
    while batch < most {
        match permits.try_acquire() {
            Ok(p) => {
                p.forget();
                batch += 1;
            }
            Err(_) => break,
        }
    }
    batch
}

/// When the load runs; shared by every client.
pub struct Plan {
    /// Time zero of the send stamps.
    pub start: Instant,
    /// Measurement starts here (ns after `start`).
    pub warmup_ns: u64,
    /// Sending stops and measurement ends here (ns after `start`).
    pub end_ns: u64,
    /// Clients give up on outstanding replies here.
    pub drain_end: Instant,
    /// MSGs in flight per client.
    pub window: usize,
    /// Time between one client's sends, `None` for as fast as the window allows.
    pub interval: Option<Duration>,
    /// With an interval: messages written at once, every `burst` intervals.
    pub burst: usize,
    /// Number of clients.
    pub clients: usize,
}

impl Plan {
    fn end(&self) -> Instant {
        self.start + Duration::from_nanos(self.end_ns)
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// What a client's writer has sent so far.
#[derive(Default)]
struct Sent {
    /// MSGs written.
    msgs: AtomicU64,
    /// Write calls they took.
    writes: AtomicU64,
}

/// What one client did.
#[derive(Debug, Default, Clone)]
pub struct ClientStats {
    /// MSGs written.
    pub sent: u64,
    /// Write calls the MSGs took.
    pub writes: u64,
    /// OKs received.
    pub acked: u64,
    /// ERRs received; the last code is in `last_error`.
    pub errors: u64,
    /// The info byte of the last ERR.
    pub last_error: Option<u8>,
    /// RECIVs (or forwarded MSGs) received in all.
    pub received: u64,
    /// RECIVs received inside the measurement window.
    pub measured: u64,
    /// Replies still missing when the client stopped.
    pub unanswered: u64,
    /// Why the client stopped early, if it did.
    pub failure: Option<String>,
}

/// Runs client `index` on `conn` until the plan ends.
pub async fn exchange(
    index: usize,
    conn: Conn,
    template: Template,
    plan: Arc<Plan>,
    latencies: Arc<Latencies>,
) -> ClientStats {
    let Conn {
        stream,
        mut leftover,
    } = conn;
    let (mut read, write) = stream.into_split();
    let window = Arc::new(Semaphore::new(plan.window));
    let sent = Arc::new(Sent::default());
    let writer_done = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_loop(
        index,
        write,
        template,
        Arc::clone(&plan),
        Arc::clone(&window),
        Arc::clone(&sent),
        Arc::clone(&writer_done),
    ));
    let mut stats = ClientStats::default();
    let mut samples = Vec::with_capacity(64);
    let shard = index;
    let mut buf = BytesMut::with_capacity(READ_BUF);
    buf.extend_from_slice(&leftover.split());
    let check = tokio::time::sleep_until(plan.end());
    tokio::pin!(check);
    let mut last_read = Instant::now();
    let result: Result<()> = async {
        loop {
            tokio::select! {
                r = read.read_buf(&mut buf) => {
                    if r? == 0 {
                        if plan.now_ns() < plan.end_ns {
                            return Err(err("the target closed the connection during the load"));
                        }
                        return Ok(());
                    }
                    last_read = Instant::now();
                    let now_ns = plan.now_ns();
                    process(&mut buf, now_ns, &plan, &mut stats, &window, &mut samples)?;
                    if !samples.is_empty() {
                        latencies.record(shard, &samples);
                        samples.clear();
                    }
                    if buf.capacity() - buf.len() < READ_BUF / 4 {
                        buf.reserve(READ_BUF);
                    }
                }
                () = &mut check => {
                    check.as_mut().reset(Instant::now() + Duration::from_millis(20));
                }
            }
            // Once its own MSGs are all answered, a client still reads what
            // its partner sent until nothing comes for LINGER: what was
            // OK'd and never received is then really missing.
            let all_answered =
                writer_done.load(Ordering::Acquire) && window.available_permits() >= plan.window;
            if (all_answered && last_read.elapsed() >= LINGER) || Instant::now() >= plan.drain_end {
                return Ok(());
            }
        }
    }
    .await;
    if let Err(e) = result {
        stats.failure = Some(e.to_string());
    }
    if !writer.is_finished() {
        writer.abort();
    }
    if let Ok(Err(e)) = writer.await
        && stats.failure.is_none()
    {
        stats.failure = Some(format!("write: {e}"));
    }
    stats.sent = sent.msgs.load(Ordering::Acquire);
    stats.writes = sent.writes.load(Ordering::Acquire);
    stats.unanswered = stats
        .sent
        .saturating_sub(stats.acked)
        .saturating_sub(stats.errors);
    stats
}

/// Takes every complete frame out of `buf`.
fn process(
    buf: &mut BytesMut,
    now_ns: u64,
    plan: &Plan,
    stats: &mut ClientStats,
    window: &Semaphore,
    samples: &mut Vec<u64>,
) -> Result<()> {
    while buf.len() >= HEADER_FRAME_LEN {
        let mut word = [0u8; HEADER_LEN];
        word.copy_from_slice(&buf[..HEADER_LEN]);
        let header = Header::from_bytes(word);
        if header.version != VERSION || buf[HEADER_LEN..HEADER_FRAME_LEN] != *b"\r\n" {
            return Err(err("malformed frame from the target"));
        }
        let len = HEADER_FRAME_LEN + usize::from(header.length);
        if buf.len() < len {
            break;
        }
        match Action::from_code(header.action) {
            Some(Action::Ok) => {
                stats.acked += 1;
                window.add_permits(1);
            }
            Some(Action::Err) if header.id != 0 => {
                stats.errors += 1;
                stats.last_error = Some(header.info);
                window.add_permits(1);
            }
            Some(Action::Err) => {
                return Err(err(format!(
                    "fatal ERR 0x{:02x} from the target",
                    header.info
                )));
            }
            Some(Action::Reciv | Action::Msg) if len >= HEADER_FRAME_LEN + CIPHERTEXT_LEN + 2 => {
                let ciphertext = &buf[len - 2 - CIPHERTEXT_LEN..len - 2];
                let mut sent = [0u8; 8];
                sent.copy_from_slice(&ciphertext[..8]);
                let sent_ns = u64::from_le_bytes(sent);
                stats.received += 1;
                if now_ns >= plan.warmup_ns && now_ns <= plan.end_ns {
                    stats.measured += 1;
                    if sent_ns >= plan.warmup_ns {
                        samples.push(now_ns.saturating_sub(sent_ns));
                    }
                }
            }
            _ => {}
        }
        buf.advance(len);
    }
    Ok(())
}

async fn write_loop(
    index: usize,
    mut write: OwnedWriteHalf,
    template: Template,
    plan: Arc<Plan>,
    window: Arc<Semaphore>,
    sent: Arc<Sent>,
    done: Arc<AtomicBool>,
) -> Result<()> {
    let result = write_until_end(index, &mut write, &template, &plan, &window, &sent).await;
    done.store(true, Ordering::Release);
    result
}

async fn write_until_end(
    index: usize,
    write: &mut OwnedWriteHalf,
    template: &Template,
    plan: &Plan,
    window: &Semaphore,
    sent: &Sent,
) -> Result<()> {
    let end = plan.end();
    let sender = u32::try_from(index).unwrap_or(u32::MAX);
    let mut out = BytesMut::with_capacity(template.len() * plan.window);
    let mut id: u16 = 0;
    let mut seq: u32 = 0;
    // A paced client writes `burst` messages every `burst` intervals; the
    // clients start spread over one such period. A burst cut short by the
    // window is made up in the next one.
    let period = plan
        .interval
        .map(|every| every * u32::try_from(plan.burst.max(1)).unwrap_or(1));
    let mut owed = 0;
    let mut due = period.map(|every| {
        let offset = every.mul_f64(index as f64 / plan.clients.max(1) as f64);
        plan.start + offset
    });
    loop {
        if let (Some(at), Some(every)) = (due.as_mut(), period) {
            if *at >= end {
                return Ok(());
            }
            sleep_until(*at).await;
            *at += every;
            // Far behind (window full for long): do not burst to catch up.
            let now = Instant::now();
            if *at + Duration::from_secs(1) < now {
                *at = now;
            }
        }
        let permit = tokio::select! {
            p = window.acquire() => p?,
            () = sleep_until(end) => return Ok(()),
        };
        permit.forget();
        if Instant::now() >= end {
            window.add_permits(1);
            return Ok(());
        }
        let most = if plan.interval.is_none() {
            plan.window
        } else {
            (plan.burst + owed).min(plan.window)
        };
        let batch = take_more(window, most);
        if plan.interval.is_some() {
            owed = (plan.burst + owed - batch).min(plan.window);
        }
        out.clear();
        let now_ns = plan.now_ns();
        for _ in 0..batch {
            id = id % MAX_ID + 1;
            seq = seq.wrapping_add(1);
            template.append(&mut out, id, now_ns, sender, seq);
        }
        write.write_all(&out).await?;
        sent.msgs.fetch_add(batch as u64, Ordering::Release);
        sent.writes.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn template_frames_decode_as_msg_with_the_stamp_inside() {
        let to = username(7).unwrap();
        let template = Template::new(&to, 1_764_000_000, 3).unwrap();
        let mut out = BytesMut::new();
        template.append(&mut out, 5, 123_456_789, 6, 1);
        template.append(&mut out, 6, 987_654_321, 6, 2);
        assert_eq!(out.len(), 2 * template.len());
        let mut decoder = Decoder::new(Direction::ToServer);
        decoder.feed(&out);
        for (id, sent) in [(5, 123_456_789u64), (6, 987_654_321)] {
            let packet = decoder.decode().unwrap().unwrap();
            assert_eq!(packet.id(), id);
            let ClientCommand::Msg {
                to: got,
                stamp,
                ciphertext,
            } = ClientCommand::from_packet(&packet).unwrap()
            else {
                panic!("not a MSG");
            };
            assert_eq!(got, to);
            assert_eq!(stamp, 1_764_000_000);
            assert_eq!(ciphertext.len(), CIPHERTEXT_LEN);
            assert_eq!(ciphertext[..8], sent.to_le_bytes());
            assert_eq!(ciphertext[8..12], 6u32.to_le_bytes());
        }
    }

    #[test]
    fn filler_has_no_crlf() {
        for seed in 0..64 {
            assert!(!crypto::contains_crlf(&filler(seed)));
        }
    }
}
