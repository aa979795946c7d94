//! Client catch-up against the client issue's target: "Catch-up of 1,000
//! stored messages, from RECIV to the last one stored and ready to show:
//! within 1.25x of the time that RSA-decrypting the same 1,000 ciphertexts
//! on all cores takes, measured in the same run."
//!
//! Setup (not measured): a `gochat_server` on loopback TCP with a temporary
//! SQLite database; `alice` and `bob` registered with the fixture keys
//! (raw REG); bob's client (`gochat_client::service::Service` over a local
//! store in a temporary file, as the real client uses) connected and logged
//! in while nothing is stored for him, and primed by one catch-up so that
//! alice is a known contact. 1,000 ciphertexts from alice to bob are made
//! with `crypto::encrypt_without_crlf` to bob's public key.
//!
//! Two measurements, on the same machine in the same run:
//!
//! * `catchup/decrypt_all_cores`: the baseline, decrypting the 1,000
//!   ciphertexts with bob's private key, split in `available_parallelism()`
//!   chunks over `std::thread::scope` threads.
//! * `catchup/client_catch_up`: before each iteration the same 1,000
//!   ciphertexts are stored on the server for bob (straight into the
//!   server's store, as an offline MSG would be; catch-up deletes what it
//!   delivered), then the timed part is `Connection::catch_up()` (RECIV) up
//!   to the 1,000th `ClientEvent::Message`, which the client emits after
//!   decrypting and storing the message in its local database.
//!
//! At the end the mean time per iteration of each (over every timed
//! iteration, warm-up included) and their ratio are printed against the
//! 1.25x target. Run with
//! `cargo bench -p gochat-benches --bench catchup -- --warm-up-time 1 --measurement-time 10`;
//! results are in `docs/PERFORMANCE.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode};
use gochat_client::ClientEvent;
use gochat_client::service::{ConnectOptions, Connection, Service};
use gochat_client::store::LocalStore;
use gochat_proto::ServerCommand;
use gochat_proto::crypto;
use gochat_runtime::Runtime;
use gochat_runtime_tokio::TokioRuntime;
use gochat_server::config::Settings;
use gochat_server::{RunningServer, start};
use gochat_testkit::{RawClient, TempDir, private_key, private_pem, public_pem_text};
use rsa::PrivateKey;

/// Messages per catch-up.
const MESSAGES: usize = 1_000;
/// The target: catch-up within this factor of the decryption.
const TARGET: f64 = 1.25;
/// The local password of bob's account.
const PASSWORD: &str = "correct horse";
/// How long anything may take before the bench gives up.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Every timed iteration of one benchmark, to print the mean at the end.
static BASELINE: Mutex<Vec<Duration>> = Mutex::new(Vec::new());
static CATCH_UP: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

/// The server, bob's logged-in connection, and what to store for him.
struct Fixture {
    /// The server's and the client's databases (removed on drop).
    _dir: TempDir,
    rt: TokioRuntime,
    server: RunningServer<TokioRuntime>,
    bob: Connection,
    events: async_channel::Receiver<ClientEvent>,
    alice_id: i64,
    bob_id: i64,
    stamp: i64,
    ciphertexts: Vec<Bytes>,
    key: PrivateKey,
}

impl Fixture {
    fn new() -> Self {
        let rt = TokioRuntime::new().unwrap();
        let dir = TempDir::new("gochat_bench_catchup");
        let settings = Settings {
            database_url: format!("sqlite://{}", dir.join("server.db").display()),
            address: "127.0.0.1".parse().unwrap(),
            port: 0,
            tls: None,
            ..Settings::default()
        };
        let server = rt.block_on(start(rt.clone(), &settings)).unwrap();
        rt.block_on(async {
            let (mut raw, _motd) = RawClient::connect(&rt, server.tcp_addr()).await;
            for name in ["alice", "bob"] {
                assert_eq!(raw.register(name).await, ServerCommand::Ok, "REG {name}");
            }
        });

        let public = crypto::public_key_from_pem(public_pem_text("bob").as_bytes()).unwrap();
        let key = private_key("bob");
        let ciphertexts: Vec<Bytes> = (0..MESSAGES)
            .map(|i| {
                let text =
                    format!("catch-up message {i:04}: the quick brown fox jumps over the lazy dog");
                Bytes::from(
                    crypto::encrypt_without_crlf(&public, &mut getrandom::SysRng, text.as_bytes())
                        .unwrap(),
                )
            })
            .collect();

        let (bob, events, alice_id, bob_id) = rt.block_on(async {
            let store = LocalStore::open(&dir.join("client.db")).await.unwrap();
            let record = store
                .add_server(Some("bench"), "127.0.0.1", server.tcp_addr().port(), false)
                .await
                .unwrap();
            let service = Service::new(store);
            service
                .import_key(&record, "bob", private_pem("bob"), PASSWORD)
                .await
                .unwrap();
            let options = ConnectOptions {
                keepalive: None,
                request_timeout: TIMEOUT,
                ..ConnectOptions::default()
            };
            let bob = service.connect(&rt, &record, &options).await.unwrap();
            let events = bob.events();
            let summary = bob.login("bob", PASSWORD).await.unwrap();
            assert!(!summary.catch_up_started, "nothing is stored yet");
            let alice_id = server.store().user("alice").await.unwrap().unwrap().id;
            let bob_id = server.store().user("bob").await.unwrap().unwrap().id;
            (bob, events, alice_id, bob_id)
        });
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let fixture = Fixture {
            _dir: dir,
            rt,
            server,
            bob,
            events,
            alice_id,
            bob_id,
            stamp,
            ciphertexts,
            key,
        };
        // Prime: one catch-up learns alice as a contact and checks the texts.
        fixture.store_all();
        fixture.rt.block_on(async {
            fixture.bob.catch_up().await.unwrap();
            let first = fixture.wait_messages().await;
            assert!(first.starts_with("catch-up message 0000"), "{first}");
        });
        fixture
    }

    /// Stores the 1,000 ciphertexts on the server for bob (untimed).
    fn store_all(&self) {
        self.rt.block_on(async {
            for c in &self.ciphertexts {
                self.server
                    .store()
                    .store_message(self.alice_id, self.bob_id, self.stamp, c)
                    .await
                    .unwrap();
            }
        });
        // Nothing else may be counted as part of the next catch-up.
        while let Ok(e) = self.events.try_recv() {
            assert!(!matches!(e, ClientEvent::Message(_)), "stray message {e:?}");
        }
    }

    /// Waits for `MESSAGES` message events; returns the first text.
    async fn wait_messages(&self) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut first = None;
        let mut got = 0;
        while got < MESSAGES {
            let next = async {
                self.events
                    .recv()
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))
            };
            match gochat_runtime::with_deadline(&self.rt, deadline, next)
                .await
                .unwrap()
            {
                ClientEvent::Message(m) => {
                    first.get_or_insert(m.text);
                    got += 1;
                }
                ClientEvent::Unreadable { reason, .. } => panic!("unreadable: {reason}"),
                ClientEvent::Disconnected { reason } => panic!("disconnected: {reason}"),
                _ => {}
            }
        }
        first.unwrap_or_default()
    }

    /// One timed catch-up: RECIV up to the 1,000th stored message.
    fn catch_up(&self) -> Duration {
        self.rt.block_on(async {
            let started = Instant::now();
            self.bob.catch_up().await.unwrap();
            self.wait_messages().await;
            started.elapsed()
        })
    }

    /// One timed decryption of the 1,000 ciphertexts on every core.
    fn decrypt_all_cores(&self) -> Duration {
        let started = Instant::now();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let chunk = self.ciphertexts.len().div_ceil(threads);
        let key = &self.key;
        let plain: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .ciphertexts
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|c| {
                                crypto::decrypt(key, &mut getrandom::SysRng, c)
                                    .unwrap()
                                    .len()
                            })
                            .sum::<usize>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        let elapsed = started.elapsed();
        std::hint::black_box(plain);
        elapsed
    }
}

fn mean(times: &Mutex<Vec<Duration>>) -> (Duration, usize) {
    let times = times.lock().unwrap();
    let n = times.len().max(1);
    (
        times.iter().sum::<Duration>() / u32::try_from(n).unwrap(),
        times.len(),
    )
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let fixture = Fixture::new();
    {
        let mut group = c.benchmark_group("catchup");
        // Seconds per iteration: equal samples of few iterations each.
        group.sampling_mode(SamplingMode::Flat);
        group.bench_function("decrypt_all_cores", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let t = fixture.decrypt_all_cores();
                        BASELINE.lock().unwrap().push(t);
                        t
                    })
                    .sum()
            });
        });
        group.bench_function("client_catch_up", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        fixture.store_all();
                        let t = fixture.catch_up();
                        CATCH_UP.lock().unwrap().push(t);
                        t
                    })
                    .sum()
            });
        });
        group.finish();
    }
    c.final_summary();

    let (baseline, n_base) = mean(&BASELINE);
    let (catch_up, n_catch) = mean(&CATCH_UP);
    if n_base > 0 && n_catch > 0 {
        let ratio = catch_up.as_secs_f64() / baseline.as_secs_f64();
        println!(
            "decrypt {MESSAGES} on {} cores: mean {baseline:.3?} over {n_base} runs",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        println!("client catch-up of {MESSAGES}: mean {catch_up:.3?} over {n_catch} runs");
        println!(
            "ratio catch-up / decrypt: {ratio:.3} (target <= {TARGET}): {}",
            if ratio <= TARGET { "met" } else { "not met" }
        );
    }
    let Fixture { rt, server, .. } = fixture;
    server.shutdown();
    rt.block_on(server.wait());
}
