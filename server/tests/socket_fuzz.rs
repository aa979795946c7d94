//! Random and mutated packet streams at a live server, on tokio and on smol.
//!
//! Forty connections at a time send, from a seeded generator, random bytes,
//! valid packets of every action in any order, and valid packets mutated (bit
//! flips, truncation, duplication, header fields changed, oversized lengths,
//! partial headers then silence), in random chunks with small pauses, each
//! for a short random time or until the server closes it. Meanwhile alice
//! and bob exchange MSGs, each of which must be answered OK and delivered as
//! RECIV within `MSG_DEADLINE`. Afterwards the server must still serve HELLO,
//! REG and LOGIN; every connection it closed must have got a well-formed
//! stream ending in an ERR or in a plain close, never a hang past its
//! deadlines; and no thread of the server may have panicked.
//!
//! Each run draws a new seed and prints it; `GOCHAT_FUZZ_SEED=N` replays the
//! byte streams of a run (the interleaving of connections still varies).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::future;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use gochat_proto::header::{Header, MAX_ID, MAX_PAYLOAD};
use gochat_proto::{
    Action, AdminCommand, ClientCommand, Decoder, Direction, ErrorCode, Hook, ServerCommand,
    UserList, Username, encode_into,
};
use gochat_runtime::Runtime;
use gochat_server::config::Settings;
use gochat_testkit::{Db, RawClient, public_pem, user};

/// Fuzzing connections open at a time.
const FUZZ_CONNECTIONS: usize = 40;
/// How long new fuzzing connections are opened.
const FUZZ_FOR: Duration = Duration::from_secs(4);
/// Longest life of one fuzzing connection (from its first byte).
const MAX_LIFETIME_MS: u64 = 1500;
/// Every MSG of alice and bob is answered and delivered within this.
const MSG_DEADLINE: Duration = Duration::from_secs(2);
/// The server's idle deadline here: a connection that completes no packet
/// for this long is closed.
const IDLE: Duration = Duration::from_secs(3);
/// The server's deadline for completing a started packet here.
const PACKET_TIMEOUT: Duration = Duration::from_secs(1);
/// Slack on every deadline of the server (a busy two-core machine).
const SLACK: Duration = Duration::from_secs(2);
/// A write that makes no progress for this long means the server stopped
/// reading a connection it keeps open.
const WRITE_STALL: Duration = Duration::from_secs(5);

// ----- seed, generator -----

/// The run's seed: `GOCHAT_FUZZ_SEED` (decimal or 0x-hex) or a new one.
fn seed() -> u64 {
    match std::env::var("GOCHAT_FUZZ_SEED") {
        Ok(text) => {
            let text = text.trim();
            match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            }
            .unwrap_or_else(|_| panic!("GOCHAT_FUZZ_SEED={text} is not a number"))
        }
        Err(_) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64;
            splitmix(nanos ^ u64::from(std::process::id()) << 32)
        }
    }
}

/// One step of splitmix64: spreads related seeds apart.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(splitmix(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Random bytes with no CR, so no CRLF: fit for any argument.
    fn arg_bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| match self.next() as u8 {
                b'\r' => b'r',
                b => b,
            })
            .collect()
    }
}

// ----- what the fuzzing connections send -----

/// Bytes to send, and whether to stop writing after them and wait for the
/// server to close the connection.
struct Item {
    bytes: Vec<u8>,
    then_silent: bool,
}

fn random_name(rng: &mut Rng) -> Username {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let len = rng.range(1, 32);
    let name: Vec<u8> = (0..len).map(|_| rng.pick(CHARS)).collect();
    Username::parse(&name).unwrap()
}

/// A name of the users around or a random one.
fn any_name(rng: &mut Rng) -> Username {
    match rng.below(6) {
        0 => user("alice"),
        1 => user("bob"),
        2 => user("carol"),
        3 => user("dave"),
        _ => random_name(rng),
    }
}

fn text(rng: &mut Rng, max: usize) -> Bytes {
    let len = rng.range(0, max);
    Bytes::from(rng.bytes(len))
}

/// A well-formed request of any kind a client may send.
fn valid_command(rng: &mut Rng) -> ClientCommand {
    match rng.below(14) {
        0 => ClientCommand::Keep,
        1 => ClientCommand::Reg {
            username: random_name(rng),
            // dave's key registers once (then ERR EXISTS); carol's is kept
            // for the check at the end.
            pubkey: if rng.chance(40) {
                public_pem("dave")
            } else {
                text(rng, 900)
            },
        },
        2 => ClientCommand::Dereg,
        3 => ClientCommand::Login {
            username: any_name(rng),
        },
        4 => ClientCommand::LoginToken {
            username: any_name(rng),
            token: text(rng, 200),
        },
        5 => ClientCommand::Logout,
        6 => ClientCommand::Verif {
            username: any_name(rng),
            answer: text(rng, 200),
        },
        7 => ClientCommand::Req {
            username: any_name(rng),
        },
        8 => ClientCommand::Usrs(rng.pick(UserList::ALL)),
        9 => ClientCommand::Msg {
            to: any_name(rng),
            stamp: rng.next() as i64 >> rng.below(64),
            ciphertext: text(rng, 2045),
        },
        10 => ClientCommand::Reciv,
        11 => ClientCommand::Admin(match rng.below(6) {
            0 => AdminCommand::Shutdown {
                stamp: rng.next() as i64 >> 20,
            },
            1 => AdminCommand::Dereg {
                username: any_name(rng),
            },
            2 => AdminCommand::Broadcast {
                text: text(rng, 400),
            },
            3 => AdminCommand::ChangePerms {
                username: any_name(rng),
                permission: rng.below(4) as u8,
            },
            4 => AdminCommand::Kick {
                username: any_name(rng),
            },
            _ => AdminCommand::Motd {
                text: text(rng, 400),
            },
        }),
        12 => ClientCommand::Sub(rng.pick(Hook::ALL)),
        _ => ClientCommand::Unsub(rng.pick(Hook::ALL)),
    }
}

fn random_id(rng: &mut Rng) -> u16 {
    1 + rng.below(u64::from(MAX_ID)) as u16
}

/// One well-formed packet: a request, or now and then an action only a
/// server sends, with random info and arguments.
fn valid_packet(rng: &mut Rng) -> Vec<u8> {
    let mut out = BytesMut::new();
    let id = random_id(rng);
    if rng.chance(12) {
        let action = rng.pick(&[
            Action::Ok,
            Action::Err,
            Action::Shtdwn,
            Action::Hook,
            Action::Hello,
        ]);
        let args: Vec<Vec<u8>> = (0..rng.below(4))
            .map(|_| {
                let len = rng.range(0, 60);
                rng.arg_bytes(len)
            })
            .collect();
        encode_into(&mut out, action, rng.next() as u8, id, &args).unwrap();
    } else {
        // A stamp whose varint holds CRLF cannot be a middle argument: KEEP then.
        let cmd = valid_command(rng);
        if cmd.encode(id, &mut out).is_err() {
            out.clear();
            ClientCommand::Keep.encode(id, &mut out).unwrap();
        }
    }
    out.to_vec()
}

/// Rewrites the header at the start of `packet` with `change`.
fn with_header(mut packet: Vec<u8>, change: impl FnOnce(&mut Header)) -> Vec<u8> {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&packet[..8]);
    let mut h = Header::from_bytes(raw);
    change(&mut h);
    packet[..8].copy_from_slice(&h.to_bytes());
    packet
}

/// The next thing a fuzzing connection sends.
fn next_item(rng: &mut Rng) -> Item {
    let send = |bytes| Item {
        bytes,
        then_silent: false,
    };
    match rng.below(100) {
        // Random bytes.
        0..=11 => {
            let len = rng.range(1, 600);
            send(rng.bytes(len))
        }
        // A valid packet.
        12..=31 => send(valid_packet(rng)),
        // Valid packets of any actions in a row.
        32..=39 => {
            let n = rng.range(2, 20);
            send((0..n).flat_map(|_| valid_packet(rng)).collect())
        }
        // Bit flips.
        40..=53 => {
            let mut p = valid_packet(rng);
            for _ in 0..rng.range(1, 4) {
                let bit = rng.below(p.len() as u64 * 8) as usize;
                p[bit / 8] ^= 1 << (bit % 8);
            }
            send(p)
        }
        // Truncation: what is left may end mid-packet.
        54..=60 => {
            let mut p = valid_packet(rng);
            let keep = rng.range(1, p.len() - 1);
            p.truncate(keep);
            send(p)
        }
        // Duplication, whole or of a slice.
        61..=66 => {
            let p = valid_packet(rng);
            let mut out = p.clone();
            if rng.chance(50) {
                out.extend_from_slice(&p);
            } else {
                let from = rng.range(0, p.len() - 1);
                let to = rng.range(from + 1, p.len());
                out.splice(from..from, p[from..to].to_vec());
            }
            send(out)
        }
        // One header field changed.
        67..=80 => {
            let p = valid_packet(rng);
            let value = rng.next();
            let field = rng.below(6);
            send(with_header(p, |h| match field {
                0 => h.length = value as u16 & 0x3FFF,
                1 => h.args = value as u8 & 0x0F,
                2 => {
                    h.id = if value & 1 == 0 {
                        0
                    } else {
                        value as u16 & 0x3FF
                    }
                }
                3 => h.info = value as u8,
                4 => h.version = value as u8 & 0x0F,
                _ => h.action = value as u8,
            }))
        }
        // A length longer than what follows, then silence: the server waits
        // for the rest, never allocating it, until its deadline.
        81..=84 => {
            let p = valid_packet(rng);
            let missing = rng.range(1, 400);
            let claimed = (p.len() - 10 + missing).min(MAX_PAYLOAD) as u16;
            Item {
                bytes: with_header(p, |h| h.length = claimed),
                then_silent: true,
            }
        }
        // An argument over 2045 bytes, or a full-size payload with no CRLF.
        85..=88 => {
            let n = if rng.chance(50) {
                rng.range(2046, 4000)
            } else {
                MAX_PAYLOAD - 2
            };
            let mut p = BytesMut::new();
            encode_into::<&[u8]>(&mut p, Action::Msg, 0xFF, random_id(rng), &[]).unwrap();
            let mut p = with_header(p.to_vec(), |h| {
                h.args = rng.range(1, 15) as u8;
                h.length = (n + 2) as u16;
            });
            p.extend(std::iter::repeat_n(b'a', n));
            p.extend_from_slice(b"\r\n");
            send(p)
        }
        // More than the length promises, beyond the largest payload.
        89..=91 => {
            let p = valid_packet(rng);
            let mut p = with_header(p, |h| h.length = MAX_PAYLOAD as u16);
            let extra = MAX_PAYLOAD + rng.range(1, 4000);
            p.extend(rng.arg_bytes(extra));
            send(p)
        }
        // Part of a header, then silence.
        92..=96 => {
            let p = valid_packet(rng);
            let keep = rng.range(1, 9);
            Item {
                bytes: p[..keep].to_vec(),
                then_silent: true,
            }
        }
        // A KEEP (refreshes the idle deadline, gets no answer).
        _ => {
            let mut p = BytesMut::new();
            ClientCommand::Keep.encode(random_id(rng), &mut p).unwrap();
            send(p.to_vec())
        }
    }
}

// ----- one fuzzing connection -----

/// How a fuzzing connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The server closed it after an ERR with the null id.
    ServerAfterErr(ErrorCode),
    /// The server closed it with no ERR (FIN).
    ServerPlain,
    /// The server reset it with no ERR (it closed with input unread).
    ServerReset,
    /// Its time was up and it closed itself.
    Client,
    /// Something was wrong (see `problem`).
    Problem,
}

/// Why the writing side stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Closed by us.
    Close,
    /// Silent from now on: the server must close within its deadlines.
    Silent,
    /// Writing failed: the server has gone.
    Gone,
    /// A write made no progress for `WRITE_STALL`.
    Stalled,
}

#[derive(Debug)]
struct Report {
    label: String,
    last: String,
    sent: usize,
    received: usize,
    end: End,
    problem: Option<String>,
}

/// Writes items for `lifetime` in random chunks with small pauses.
async fn write_side<R: Runtime, W: futures_lite::AsyncWrite + Unpin>(
    rt: &R,
    wr: &mut W,
    rng: &mut Rng,
    lifetime: Duration,
    server_closed: &AtomicBool,
    sent: &mut usize,
) -> Stop {
    let until = Instant::now() + lifetime;
    // Some connections send mostly valid packets, so that sessions get deep
    // into their states before something breaks.
    let valid_share = rng.pick(&[0, 50, 90, 98]);
    loop {
        if Instant::now() >= until {
            return if rng.chance(35) {
                Stop::Silent
            } else {
                Stop::Close
            };
        }
        let item = if rng.chance(valid_share) {
            let n = if rng.chance(70) { 1 } else { rng.range(2, 10) };
            Item {
                bytes: (0..n).flat_map(|_| valid_packet(rng)).collect(),
                then_silent: false,
            }
        } else {
            next_item(rng)
        };
        let mut at = 0;
        while at < item.bytes.len() {
            if server_closed.load(Ordering::Relaxed) {
                return Stop::Gone;
            }
            let max = if rng.chance(50) { 16 } else { 1500 };
            let end = (at + rng.range(1, max)).min(item.bytes.len());
            let chunk = &item.bytes[at..end];
            let write = async {
                wr.write_all(chunk).await?;
                wr.flush().await
            };
            let stall = Instant::now() + WRITE_STALL;
            match gochat_runtime::with_deadline(rt, stall, write).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Stop::Stalled,
                Err(_) => return Stop::Gone,
            }
            *sent += chunk.len();
            at = end;
            if rng.chance(30) {
                let pause = Duration::from_millis(rng.below(25));
                rt.sleep_until(Instant::now() + pause).await;
            }
        }
        if item.then_silent {
            return Stop::Silent;
        }
    }
}

/// What the reading side saw.
struct Seen {
    received: usize,
    /// The last packet received and how the writing side stopped, if it did.
    last: String,
    end: End,
    problem: Option<String>,
}

/// Reads and checks what the server sends until the connection ends: the
/// server closes it, or the writing side closed it, or a deadline passed.
async fn read_side<R: Runtime, Rd: futures_lite::AsyncRead + Unpin>(
    rt: &R,
    rd: &mut Rd,
    stop: async_channel::Receiver<(Stop, Instant)>,
    server_closed: &AtomicBool,
    we_closed: &AtomicBool,
) -> Seen {
    enum Event {
        Read(std::io::Result<usize>),
        Writer(Option<(Stop, Instant)>),
        Deadline,
    }
    let mut decoder = Decoder::new(Direction::ToClient);
    let mut buf = vec![0u8; 16 * 1024];
    let mut received = 0;
    let mut stopped: Option<(Stop, Instant)> = None;
    let mut closing_err: Option<(ErrorCode, Instant)> = None;
    let mut last = String::from("nothing");
    let problem = |received, last: &str, text: String| Seen {
        received,
        last: last.to_string(),
        end: End::Problem,
        problem: Some(text),
    };
    loop {
        let deadline = match (closing_err, stopped) {
            (Some((_, at)), _) => Some(at + SLACK),
            (None, Some((Stop::Silent, at))) => Some(at + IDLE.max(PACKET_TIMEOUT) + SLACK),
            (None, Some((Stop::Gone, at))) => Some(at + SLACK),
            (None, Some((Stop::Close, _))) => {
                return Seen {
                    received,
                    last,
                    end: End::Client,
                    problem: None,
                };
            }
            (None, Some((Stop::Stalled, _))) => {
                return problem(
                    received,
                    &last,
                    format!("a write made no progress for {WRITE_STALL:?}"),
                );
            }
            (None, None) => None,
        };
        let read = async { Event::Read(rd.read(&mut buf).await) };
        let writer = async {
            if stopped.is_some() {
                future::pending().await
            } else {
                Event::Writer(stop.recv().await.ok())
            }
        };
        let timer = async {
            match deadline {
                Some(at) => {
                    rt.sleep_until(at).await;
                    Event::Deadline
                }
                None => future::pending().await,
            }
        };
        let event = future::or(read, future::or(writer, timer)).await;
        let read_failed = matches!(event, Event::Read(Err(_)));
        match event {
            Event::Writer(s) => {
                stopped = Some(s.expect("the writing side reports how it stopped"));
            }
            Event::Deadline => {
                return problem(
                    received,
                    &last,
                    match closing_err {
                        Some((code, _)) => format!("not closed within {SLACK:?} of ERR {code}"),
                        None => format!(
                            "still open {:?} after the last byte sent ({:?})",
                            deadline.unwrap() - stopped.unwrap().1,
                            stopped.unwrap().0
                        ),
                    },
                );
            }
            Event::Read(Ok(0)) | Event::Read(Err(_)) => {
                server_closed.store(true, Ordering::Relaxed);
                let end = match (closing_err, read_failed) {
                    (Some((code, _)), _) => End::ServerAfterErr(code),
                    (None, _) if we_closed.load(Ordering::Relaxed) => End::Client,
                    (None, false) => End::ServerPlain,
                    (None, true) => End::ServerReset,
                };
                // Whatever was left in the decoder is a packet cut short.
                if decoder.buffered() > 0 {
                    return problem(
                        received,
                        &last,
                        format!("closed after {} bytes of a packet", decoder.buffered()),
                    );
                }
                if let Some((stop, _)) = stopped {
                    last = format!("{last}, writer {stop:?}");
                }
                return Seen {
                    received,
                    last,
                    end,
                    problem: None,
                };
            }
            Event::Read(Ok(n)) => {
                decoder.feed(&buf[..n]);
                loop {
                    let packet = match decoder.decode() {
                        Ok(Some(p)) => p,
                        Ok(None) => break,
                        Err(e) => {
                            return problem(
                                received,
                                &last,
                                format!("server sent a malformed packet: {e}"),
                            );
                        }
                    };
                    let cmd = match ServerCommand::from_packet(&packet) {
                        Ok(cmd) => cmd,
                        Err(e) => {
                            return problem(
                                received,
                                &last,
                                format!("unreadable {packet:?}: {e:?}"),
                            );
                        }
                    };
                    if received == 0 && !matches!(cmd, ServerCommand::Hello { .. }) {
                        return problem(
                            received,
                            &last,
                            format!("first packet {cmd:?}, not HELLO"),
                        );
                    }
                    if let Some((code, _)) = closing_err {
                        return problem(
                            received,
                            &last,
                            format!("{cmd:?} after the closing ERR {code}"),
                        );
                    }
                    received += 1;
                    last = format!("{cmd:?}");
                    if let ServerCommand::Err(code) = cmd
                        && packet.is_null_id()
                    {
                        closing_err = Some((code, Instant::now()));
                    }
                }
            }
        }
    }
}

/// One fuzzing connection from start to end.
async fn fuzz_connection<R: Runtime>(
    rt: R,
    addr: SocketAddr,
    mut rng: Rng,
    label: String,
) -> Report {
    let stream = match rt.connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            return Report {
                label,
                last: String::new(),
                sent: 0,
                received: 0,
                end: End::Problem,
                problem: Some(format!("connect: {e}")),
            };
        }
    };
    let (mut rd, mut wr) = futures_lite::io::split(stream);
    let lifetime = Duration::from_millis(rng.range(50, MAX_LIFETIME_MS as usize) as u64);
    let server_closed = AtomicBool::new(false);
    let we_closed = AtomicBool::new(false);
    let (stop_tx, stop_rx) = async_channel::bounded(1);
    let mut sent = 0;
    let writer = async {
        let stop = write_side(&rt, &mut wr, &mut rng, lifetime, &server_closed, &mut sent).await;
        if stop == Stop::Close {
            // Told before the close: the server's answering close may reach
            // the reading side before this side's report does.
            we_closed.store(true, Ordering::Relaxed);
            let _ = wr.close().await;
        }
        let _ = stop_tx.send((stop, Instant::now())).await;
    };
    let reader = read_side(&rt, &mut rd, stop_rx, &server_closed, &we_closed);
    let ((), seen) = future::zip(writer, reader).await;
    Report {
        label,
        last: seen.last,
        sent,
        received: seen.received,
        end: seen.end,
        problem: seen.problem,
    }
}

// ----- alice and bob -----

fn msg(to: &str, stamp: i64, text: &str) -> ClientCommand {
    ClientCommand::Msg {
        to: user(to),
        stamp,
        ciphertext: Bytes::copy_from_slice(text.as_bytes()),
    }
}

/// The reply to `id` by `deadline`.
async fn reply_by<R: Runtime>(
    rt: &R,
    c: &mut RawClient<R>,
    id: u16,
    deadline: Instant,
    what: &str,
) -> ServerCommand {
    let reply = async { Ok(c.reply(id).await) };
    gochat_runtime::with_deadline(rt, deadline, reply)
        .await
        .unwrap_or_else(|_| panic!("{what}: no reply within {MSG_DEADLINE:?}"))
}

/// The next push by `deadline`.
async fn push_by<R: Runtime>(c: &mut RawClient<R>, deadline: Instant, what: &str) -> ServerCommand {
    let wait = deadline.saturating_duration_since(Instant::now());
    c.push(wait)
        .await
        .unwrap_or_else(|| panic!("{what}: not delivered within {MSG_DEADLINE:?}"))
}

/// One round: alice and bob each send a MSG to the other; both must be
/// answered OK and delivered within `MSG_DEADLINE` of being sent. Returns
/// how long the round took.
async fn chat_round<R: Runtime>(
    rt: &R,
    a: &mut RawClient<R>,
    b: &mut RawClient<R>,
    round: u32,
) -> Duration {
    let stamp = 1_764_000_000 + i64::from(round);
    let (to_bob, to_alice) = (format!("to bob {round}"), format!("to alice {round}"));
    let sent = Instant::now();
    let deadline = sent + MSG_DEADLINE;
    let ida = a.send(&msg("bob", stamp, &to_bob)).await;
    let idb = b.send(&msg("alice", stamp, &to_alice)).await;
    let what = format!("round {round}, alice's MSG");
    assert_eq!(
        reply_by(rt, a, ida, deadline, &what).await,
        ServerCommand::Ok,
        "{what}"
    );
    assert_eq!(
        push_by(b, deadline, &what).await,
        ServerCommand::Reciv {
            sender: user("alice"),
            stamp,
            ciphertext: Bytes::from(to_bob)
        },
        "{what}"
    );
    let what = format!("round {round}, bob's MSG");
    assert_eq!(
        reply_by(rt, b, idb, deadline, &what).await,
        ServerCommand::Ok,
        "{what}"
    );
    assert_eq!(
        push_by(a, deadline, &what).await,
        ServerCommand::Reciv {
            sender: user("bob"),
            stamp,
            ciphertext: Bytes::from(to_alice)
        },
        "{what}"
    );
    sent.elapsed()
}

// ----- panics -----

/// Panics of any thread but the test's own, recorded by a hook.
fn panics() -> &'static Mutex<Vec<String>> {
    static PANICS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    PANICS.get_or_init(Default::default)
}

/// The test threads whose own panics are the test failing, not the server.
fn test_threads() -> &'static Mutex<Vec<std::thread::ThreadId>> {
    static THREADS: OnceLock<Mutex<Vec<std::thread::ThreadId>>> = OnceLock::new();
    THREADS.get_or_init(Default::default)
}

fn install_panic_hook() {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let me = std::thread::current();
            let ours = test_threads()
                .lock()
                .map(|t| t.contains(&me.id()))
                .unwrap_or(false);
            if !ours {
                let payload = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                let entry = format!("thread {:?} at {at}: {payload}", me.name().unwrap_or("?"));
                if let Ok(mut p) = panics().lock() {
                    p.push(entry);
                }
            }
            previous(info);
        }));
    });
}

// ----- the scenario -----

async fn fuzz_server<R: Runtime>(rt: R, mut settings: Settings, seed: u64) {
    settings.idle_timeout = IDLE;
    settings.packet_timeout = PACKET_TIMEOUT;
    settings.max_connections_per_ip = 0;
    settings.registrations_per_minute = 0;
    settings.logins_per_minute = 0;
    let database_url = settings.database_url.clone();
    let server = gochat_testkit::start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let (mut a, _) = RawClient::connect(&rt, addr).await;
    let (mut b, _) = RawClient::connect(&rt, addr).await;
    a.register_and_login("alice").await;
    b.register_and_login("bob").await;

    let started = Instant::now();
    let fuzz_until = started + FUZZ_FOR;
    let (reports_tx, reports) = async_channel::unbounded::<Report>();
    for slot in 0..FUZZ_CONNECTIONS {
        let (rt2, tx) = (rt.clone(), reports_tx.clone());
        rt.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < fuzz_until {
                let conn_seed = splitmix(seed ^ (slot as u64) << 40 ^ n);
                let label = format!("slot {slot} connection {n}");
                let report = fuzz_connection(rt2.clone(), addr, Rng::new(conn_seed), label).await;
                let _ = tx.send(report).await;
                n += 1;
            }
        });
    }
    drop(reports_tx);

    // alice and bob talk until every fuzzing connection has ended.
    let mut done = Vec::new();
    let (mut round, mut slowest) = (0u32, Duration::ZERO);
    loop {
        loop {
            match reports.try_recv() {
                Ok(r) => done.push(r),
                Err(async_channel::TryRecvError::Empty) => break,
                Err(async_channel::TryRecvError::Closed) => break,
            }
        }
        if reports.is_closed() && reports.is_empty() {
            break;
        }
        slowest = slowest.max(chat_round(&rt, &mut a, &mut b, round).await);
        round += 1;
        // Paced, so that the fuzzing connections get the machine too.
        rt.sleep_until(Instant::now() + Duration::from_millis(20))
            .await;
    }
    let fuzz_time = started.elapsed();

    // The server still serves a newcomer in full.
    let (mut c, _) = RawClient::connect(&rt, addr).await;
    assert_eq!(
        c.register("carol").await,
        ServerCommand::Ok,
        "REG after the fuzzing"
    );
    assert_eq!(
        c.login("carol").await.0,
        ServerCommand::Ok,
        "LOGIN after the fuzzing"
    );
    chat_round(&rt, &mut a, &mut b, round).await;

    let mut ends: BTreeMap<String, usize> = BTreeMap::new();
    for r in &done {
        let key = match r.end {
            End::ServerAfterErr(code) => format!("server, after {code}"),
            other => format!("{other:?}"),
        };
        *ends.entry(key).or_default() += 1;
    }
    let sent: usize = done.iter().map(|r| r.sent).sum();
    let received: usize = done.iter().map(|r| r.received).sum();
    eprintln!(
        "{}: {} fuzzing connections in {fuzz_time:?}, {sent} bytes sent, {received} packets back; \
         ends: {ends:?}; {round} chat rounds, slowest {slowest:?}",
        rt.name(),
        done.len()
    );
    let plain = [End::ServerPlain, End::ServerReset];
    for r in done.iter().filter(|r| plain.contains(&r.end)).take(5) {
        eprintln!("  closed with no ERR: {}, last packet {}", r.label, r.last);
    }
    let problems: Vec<String> = done
        .iter()
        .filter_map(|r| {
            let p = r.problem.as_ref()?;
            Some(format!("{}: {p} (last packet {})", r.label, r.last))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "seed {seed}: {} connections went wrong:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        done.len() >= FUZZ_CONNECTIONS,
        "seed {seed}: only {} fuzzing connections reported (a fuzzing task died?)",
        done.len()
    );
    assert!(
        done.iter().any(|r| r.end != End::Client),
        "the server closed no fuzzing connection: the input never reached it"
    );

    server.shutdown();
    server.wait().await;
    let path = database_url.trim_start_matches("sqlite://");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}

/// Runs the scenario on `rt`; one runtime at a time, so that a panic is
/// pinned on the run it happened in.
fn fuzz_on<R: Runtime>(rt: R) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    install_panic_hook();
    test_threads()
        .lock()
        .unwrap()
        .push(std::thread::current().id());
    panics().lock().unwrap().clear();
    let seed = seed();
    eprintln!("{}: GOCHAT_FUZZ_SEED={seed}", rt.name());
    let name = rt.name();
    gochat_testkit::run_scenario(rt, Db::Sqlite, move |rt, settings| {
        fuzz_server(rt, settings, seed)
    });
    let panics = std::mem::take(&mut *panics().lock().unwrap());
    assert!(
        panics.is_empty(),
        "{name}, seed {seed}: panics outside the test thread:\n{}",
        panics.join("\n")
    );
}

#[test]
fn tokio_sqlite() {
    fuzz_on(gochat_testkit::tokio_rt());
}

#[test]
fn smol_sqlite() {
    fuzz_on(gochat_testkit::smol_rt());
}
