//! `gochat-loadgen`: the load generator for the gochat server.
//!
//! - `gochat-loadgen run`: N logged-in clients (paired 2k <-> 2k+1) exchange
//!   512-byte MSGs, each with at most `--window` unanswered; reports
//!   messages/s, latency percentiles (MSG written -> RECIV read) and the
//!   server's RSS. `--compare` runs the same load against the bare relay in
//!   the same invocation and prints the ratios: loader and target share the
//!   machine, so only ratios to the relay compare across machines.
//! - `gochat-loadgen idle`: N connections that read HELLO and stay idle
//!   (optionally logged in); reports the server's RSS per connection and
//!   after they all leave.
//! - `gochat-loadgen slowreader`: a logged-in reader stops reading while
//!   senders flood it; reports the server's memory each second, then whether
//!   every OK'd message still reaches the reader (after it hangs up, or when
//!   it reads again) and how long that takes.
//! - `gochat-loadgen catchup`: messages stored for an offline reader, then
//!   its RECIV: time to the OK, the first and the last stored message.
//! - `gochat-loadgen relay`: the bare relay itself (pairs connections in
//!   accept order, forwards every frame to the partner, OKs the sender).
//!
//! The target always runs as a separate process (the server binary or this
//! binary re-executed as `relay`), killed when the loader exits. Everything
//! is loopback-only and bounded in time. Results: `docs/PERFORMANCE.md`.

#[path = "loadgen/catchup.rs"]
mod catchup;
#[path = "loadgen/child.rs"]
mod child;
#[path = "loadgen/client.rs"]
mod client;
#[path = "loadgen/fleet.rs"]
mod fleet;
#[path = "loadgen/idle.rs"]
mod idle;
#[path = "loadgen/keys.rs"]
mod keys;
#[path = "loadgen/relay.rs"]
mod relay;
#[path = "loadgen/report.rs"]
mod report;
#[path = "loadgen/sampler.rs"]
mod sampler;
#[path = "loadgen/slowreader.rs"]
mod slowreader;
#[path = "loadgen/tagged.rs"]
mod tagged;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use child::TargetKind;
use client::{ClientStats, Conn, Plan, Template};
use fleet::{Fleet, Placement, RunKind};
use keys::UserKey;
use report::{Latencies, LoadResult, Memory, Percentiles};

/// Any error, with its message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// An error from a message.
pub fn err(message: impl Into<String>) -> Error {
    message.into().into()
}

/// How long connecting (and logging in) every client may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// Pause after the last client leaves before memory is read again.
const CLOSE_SETTLE: Duration = Duration::from_secs(3);

#[derive(Parser)]
#[command(
    name = "gochat-loadgen",
    version,
    about = "Load generator for the gochat server, with a bare relay as the ceiling"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bare relay (used by `run --compare` / `--target relay`)
    Relay(RelayArgs),
    /// Message load: throughput and latency, optionally against the relay too
    Run(RunArgs),
    /// Idle connections: server memory per connection and after they leave
    Idle(IdleArgs),
    /// A reader that stops reading while senders flood it: server memory,
    /// then lost and duplicated messages after it hangs up or reads again
    Slowreader(SlowreaderArgs),
    /// Catch-up of messages stored for an offline reader: RECIV -> OK,
    /// first and last message
    Catchup(CatchupArgs),
}

/// Flags of `relay`.
#[derive(Args, Debug)]
pub struct RelayArgs {
    /// Loopback port to listen on (0: any; the port is printed as "listening <port>")
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Exit after this many seconds
    #[arg(long, default_value_t = 3600)]
    pub max_seconds: u64,
    /// Exit when standard input closes (the loader's pipe)
    #[arg(long)]
    pub watch_stdin: bool,
}

/// Runtime of the gochat server.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ServerRuntime {
    Tokio,
    Smol,
}

/// Which server to start.
#[derive(Args, Debug, Clone)]
struct ServerArgs {
    /// The gochat server binary [default: gochat-server beside this binary]
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Runtime of the server (its --runtime) [default: the server's own]
    #[arg(long, value_enum)]
    server_runtime: Option<ServerRuntime>,
    /// Extra environment variable for the server, KEY=VALUE (repeatable;
    /// e.g. MALLOC_ARENA_MAX=1 for allocator experiments)
    #[arg(long, value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// The server's --database-url, e.g. mysql://root@127.0.0.1:3306/loadgen
    /// (the database must exist and is left in place) [default: a fresh
    /// SQLite file in a temporary directory, deleted afterwards]
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Extra argument for the server, passed as it is after the loader's own
    /// (repeatable; e.g. --server-arg=--max-queued-bytes=65536). Servers
    /// whose --help lists --max-connections-per-ip also get
    /// `--max-connections-per-ip=0 --registrations-per-minute=0
    /// --logins-per-minute=0` unless given here
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    server_arg: Vec<String>,
}

impl ServerArgs {
    fn kind(&self) -> Result<TargetKind> {
        let bin = match &self.server_bin {
            Some(bin) => bin.clone(),
            None => std::env::current_exe()?
                .parent()
                .ok_or_else(|| err("this binary has no directory"))?
                .join("gochat-server"),
        };
        let runtime = self.server_runtime.map(|r| {
            match r {
                ServerRuntime::Tokio => "tokio",
                ServerRuntime::Smol => "smol",
            }
            .to_owned()
        });
        let env = self
            .server_env
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| err(format!("--server-env {kv}: expected KEY=VALUE")))
            })
            .collect::<Result<_>>()?;
        Ok(TargetKind::Gochat {
            bin,
            runtime,
            env,
            database_url: self.database_url.clone(),
            args: self.server_arg.clone(),
        })
    }
}

/// What `run` loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TargetChoice {
    Gochat,
    Relay,
}

/// Flags of `run`.
#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// What to load
    #[arg(long, value_enum, default_value_t = TargetChoice::Gochat)]
    target: TargetChoice,
    /// Also run the same load against the bare relay and print the ratios
    #[arg(long)]
    compare: bool,
    /// Clients (even: they are paired)
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// MSGs written and not yet answered, per client
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// Total messages/s over all clients; 0 = as fast as the windows allow
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// With --rate: MSGs each client writes at once, every `burst` intervals
    /// (at most --window). 1 sends each message alone; the unpaced load
    /// writes up to --window at once, so `--burst 8` keeps its shape
    #[arg(long, default_value_t = 1)]
    burst: usize,
    /// Seconds of load before measuring
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Seconds measured
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Repeat the load this many times (alternating targets with --compare);
    /// the table shows each target's median run
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Seconds after the end to wait for outstanding replies
    #[arg(long, default_value_t = 3)]
    drain: u64,
    /// Logins in flight at once
    #[arg(long, default_value_t = 32)]
    login_concurrency: usize,
    /// Seconds to wait after the target started, before connecting (time to
    /// attach a profiler to the printed pid)
    #[arg(long, default_value_t = 0)]
    pause: u64,
    /// Worker threads of the loader [default: one per core]
    #[arg(long)]
    threads: Option<usize>,
    /// Run gochat as a cluster of --nodes nodes joined through the NATS
    /// server at this URL (needs a shared --database-url: MariaDB or
    /// PostgreSQL); clients are placed per --placement
    #[arg(long, value_name = "URL")]
    cluster_url: Option<String>,
    /// Nodes of the cluster (with --cluster-url)
    #[arg(long, default_value_t = 2)]
    nodes: usize,
    /// Where each pair of clients goes in a cluster: on one node, on two,
    /// or both in turn (each round runs both, same-node first)
    #[arg(long, value_enum, default_value_t = PlacementChoice::Both)]
    placement: PlacementChoice,
    /// Also print the results as one JSON line
    #[arg(long)]
    json: bool,
}

/// `--placement`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PlacementChoice {
    /// Each pair on one node.
    Same,
    /// Each pair split over two nodes.
    Cross,
    /// Both, in turn.
    Both,
}

/// Flags of `idle`.
#[derive(Args, Debug)]
struct IdleArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Connections to open
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Register and log in every connection too
    #[arg(long)]
    login: bool,
    /// Connections (or logins) in progress at once
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Seconds to wait with every connection open before reading memory
    #[arg(long, default_value_t = 3)]
    settle: u64,
    /// Seconds to wait after closing them before reading memory again
    #[arg(long, default_value_t = 5)]
    after: u64,
    /// Seconds to wait after the server started, before connecting (time to
    /// attach a profiler to the printed pid)
    #[arg(long, default_value_t = 0)]
    pause: u64,
    /// Worker threads of the loader [default: one per core]
    #[arg(long)]
    threads: Option<usize>,
    /// Also print the results as one JSON line
    #[arg(long)]
    json: bool,
}

/// What the slow reader does once the senders stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Then {
    /// Close its connection; then log in again on a new one (retrying until
    /// the server lets it) and catch up
    Hangup,
    /// Start reading on the same connection (and ask for stored messages)
    Read,
}

/// Flags of `slowreader`.
#[derive(Args, Debug)]
struct SlowreaderArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Clients sending to the reader
    #[arg(long, default_value_t = 2)]
    senders: usize,
    /// Seconds of flood
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Ciphertext bytes per MSG (the first 16 are the message's tag)
    #[arg(long, default_value_t = 512)]
    size: usize,
    /// MSGs written and not yet answered, per sender
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// What the reader does after the flood
    #[arg(long, value_enum, default_value_t = Then::Hangup)]
    then: Then,
    /// Stop the flood early when the server's RSS reaches this many MiB
    #[arg(long, default_value_t = 4096)]
    max_rss_mib: u64,
    /// Stop reading after this many seconds without a RECIV
    #[arg(long, default_value_t = 5)]
    quiet: u64,
    /// With OK'd messages still missing and no RECIV request unanswered,
    /// the reader asks again (RECIV) after this many ms without a RECIV or
    /// an answer (a catch-up ends when it has sent what was stored when it
    /// ran; more may be stored since)
    #[arg(long, default_value_t = 250)]
    ask_again_ms: u64,
    /// After hanging up, give up if the reader cannot log in again within
    /// this many seconds
    #[arg(long, default_value_t = 1800)]
    wait_limit: u64,
    /// Worker threads of the loader [default: one per core]
    #[arg(long)]
    threads: Option<usize>,
    /// Also print the results as one JSON line
    #[arg(long)]
    json: bool,
}

/// Flags of `catchup`.
#[derive(Args, Debug)]
struct CatchupArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Messages stored for the offline reader each round
    #[arg(long, default_value_t = 1000)]
    messages: u64,
    /// Ciphertext bytes per MSG (the first 16 are the message's tag)
    #[arg(long, default_value_t = 512)]
    size: usize,
    /// Rounds (each stores the messages again)
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// MSGs the sender writes ahead of their OKs while storing
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// A round fails after this many seconds without a RECIV
    #[arg(long, default_value_t = 5)]
    quiet: u64,
    /// With OK'd messages still missing and no RECIV request unanswered,
    /// the reader asks again (RECIV) after this many ms without a RECIV or
    /// an answer (a catch-up ends when it has sent what was stored when it
    /// ran; more may be stored since)
    #[arg(long, default_value_t = 250)]
    ask_again_ms: u64,
    /// Worker threads of the loader [default: one per core]
    #[arg(long)]
    threads: Option<usize>,
    /// Also print the results as one JSON line
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Relay(args) => relay::main(&args),
        Command::Run(args) => on_runtime(args.threads, async move { run(&args).await }),
        Command::Idle(args) => on_runtime(args.threads, async move { idle::run(&args).await }),
        Command::Slowreader(args) => {
            on_runtime(args.threads, async move { slowreader::run(&args).await })
        }
        Command::Catchup(args) => {
            on_runtime(args.threads, async move { catchup::run(&args).await })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gochat-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `work` on a multi-thread runtime; Ctrl-C or SIGTERM abandon it
/// (which kills the target through its guard).
fn on_runtime(
    threads: Option<usize>,
    work: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.enable_all().build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = work => r,
            _ = tokio::signal::ctrl_c() => Err(err("interrupted")),
            _ = term.recv() => Err(err("terminated")),
        }
    })
}

/// Raises this process's open-file limit to its hard limit; returns it.
fn raise_nofile() -> Result<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        setrlimit(Resource::Nofile, limit)?;
    }
    Ok(limit.current.unwrap_or(u64::MAX))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Derives one key per client, timing it.
fn derive_keys(count: usize) -> Result<Vec<UserKey>> {
    let started = std::time::Instant::now();
    let keys = keys::derive(count, cores())?;
    eprintln!(
        "derived {count} key pairs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(keys)
}

async fn run(args: &RunArgs) -> Result<()> {
    if args.connections < 2 || !args.connections.is_multiple_of(2) {
        return Err(err("--connections must be even and at least 2"));
    }
    if args.window == 0 || args.duration == 0 || args.burst == 0 {
        return Err(err("--window, --duration and --burst must be positive"));
    }
    if args.burst > args.window {
        return Err(err("--burst cannot exceed --window"));
    }
    if args.burst > 1 && args.rate == 0 {
        return Err(err("--burst only applies to a paced load (--rate)"));
    }
    let limit = raise_nofile()?;
    if args.connections as u64 + 64 > limit {
        return Err(err(format!(
            "{} connections need more than the open-file limit {limit}",
            args.connections
        )));
    }
    let relay = TargetKind::Relay {
        max_seconds: SETUP_TIMEOUT.as_secs() + args.warmup + args.duration + args.drain + 120,
    };
    let mut kinds = match (args.target, &args.cluster_url) {
        (TargetChoice::Gochat, None) => vec![RunKind::Single(args.server.kind()?)],
        (TargetChoice::Gochat, Some(url)) => {
            let node = args.server.kind()?;
            if args.server.database_url.is_none() || args.nodes < 2 {
                return Err(err(
                    "--cluster-url needs --nodes 2 or more and a shared --database-url (MariaDB or PostgreSQL)",
                ));
            }
            let placements = match args.placement {
                PlacementChoice::Same => vec![Placement::Same],
                PlacementChoice::Cross => vec![Placement::Cross],
                PlacementChoice::Both => vec![Placement::Same, Placement::Cross],
            };
            placements
                .into_iter()
                .map(|placement| RunKind::Cluster {
                    node: node.clone(),
                    url: url.clone(),
                    nodes: args.nodes,
                    placement,
                })
                .collect()
        }
        (TargetChoice::Relay, _) => vec![RunKind::Single(relay.clone())],
    };
    if args.compare {
        if args.target != TargetChoice::Gochat || args.cluster_url.is_some() {
            return Err(err(
                "--compare compares one gochat server with the relay: use --target gochat without --cluster-url",
            ));
        }
        kinds.push(RunKind::Single(relay));
    }
    let keys = if kinds.iter().any(RunKind::is_gochat) {
        let n = args.connections;
        Some(tokio::task::spawn_blocking(move || derive_keys(n)).await??)
    } else {
        None
    };
    // results[k][round]: the same load on each target, alternating, so
    // that changes in what else the machine runs hit both alike.
    let mut results: Vec<Vec<LoadResult>> = kinds.iter().map(|_| Vec::new()).collect();
    for round in 0..args.rounds.max(1) {
        for (k, kind) in kinds.iter().enumerate() {
            eprintln!(
                "round {}/{}: {}: {} clients, window {}, rate {}, {} s warm-up + {} s",
                round + 1,
                args.rounds.max(1),
                kind.name(),
                args.connections,
                args.window,
                if args.rate == 0 {
                    "unlimited".to_owned()
                } else {
                    args.rate.to_string()
                },
                args.warmup,
                args.duration
            );
            let user_keys = if kind.is_gochat() { keys.clone() } else { None };
            results[k].push(load(args, kind, user_keys).await?);
        }
    }
    let ratios: Vec<f64> = match results.as_slice() {
        [a, b] => a
            .iter()
            .zip(b)
            .filter(|(_, b)| b.msgs_per_sec > 0.0)
            .map(|(a, b)| a.msgs_per_sec / b.msgs_per_sec)
            .collect(),
        _ => Vec::new(),
    };
    if args.rounds > 1 {
        for (round, r) in ratios.iter().enumerate() {
            println!("round {}: throughput ratio {r:.3}", round + 1);
        }
    }
    // The table shows each target's median run (by messages/s).
    let medians: Vec<LoadResult> = results.iter().filter_map(|runs| median_run(runs)).collect();
    report::print_table(&medians);
    let median_ratio = median(&ratios);
    if args.rounds > 1
        && let Some(m) = median_ratio
    {
        println!(
            "median throughput ratio over {} rounds: {m:.3} (min {:.3}, max {:.3})",
            ratios.len(),
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratios.iter().copied().fold(0.0, f64::max)
        );
    }
    if args.json {
        let body: Vec<String> = results.iter().flatten().map(report::json).collect();
        let listed: Vec<String> = ratios.iter().map(|r| format!("{r:.4}")).collect();
        println!(
            "{{\"mode\":\"run\",\"rounds\":{},\"results\":[{}],\"round_ratios\":[{}],\"throughput_ratio\":{}}}",
            args.rounds.max(1),
            body.join(","),
            listed.join(","),
            median_ratio.map_or("null".to_owned(), |m| format!("{m:.4}"))
        );
    }
    Ok(())
}

/// The run with the median messages/s (the lower middle one for an even count).
fn median_run(runs: &[LoadResult]) -> Option<LoadResult> {
    let mut sorted: Vec<&LoadResult> = runs.iter().collect();
    sorted.sort_by(|a, b| a.msgs_per_sec.total_cmp(&b.msgs_per_sec));
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .map(|r| (*r).clone())
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Connects every client (logging in on gochat), in client order.
async fn connect_all(
    fleet: &Fleet,
    count: usize,
    keys: Option<Vec<UserKey>>,
    concurrency: usize,
) -> Result<Vec<Conn>> {
    let Some(keys) = keys else {
        // The relay pairs by accept order: connect one after the other.
        let mut conns = Vec::with_capacity(count);
        for index in 0..count {
            conns.push(client::connect_plain(fleet.port_for(index)).await?);
        }
        return Ok(conns);
    };
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    for (index, key) in keys.into_iter().enumerate().take(count) {
        let permit = Arc::clone(&gate).acquire_owned().await?;
        let port = fleet.port_for(index);
        set.spawn(async move {
            let conn = client::login(port, index, key).await;
            drop(permit);
            (index, conn)
        });
    }
    let mut slots: Vec<Option<Conn>> = (0..count).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (index, conn) = joined?;
        let conn = conn.map_err(|e| err(format!("client {index}: {e}")))?;
        slots[index] = Some(conn);
    }
    slots
        .into_iter()
        .map(|c| c.ok_or_else(|| err("a client is missing")))
        .collect()
}

/// One load run against one freshly started target.
async fn load(args: &RunArgs, kind: &RunKind, keys: Option<Vec<UserKey>>) -> Result<LoadResult> {
    let mut target = Fleet::spawn(kind).await?;
    sleep(Duration::from_millis(300)).await;
    let mut memory = Memory {
        fresh: target.rss_kib()?,
        ..Memory::default()
    };
    if args.pause > 0 {
        eprintln!("{} (pid {}): started", kind.name(), target.pid());
        sleep(Duration::from_secs(args.pause)).await;
    }
    let setup_started = Instant::now();
    let conns = timeout(
        SETUP_TIMEOUT,
        connect_all(&target, args.connections, keys, args.login_concurrency),
    )
    .await
    .map_err(|_| err("connecting the clients took too long"))??;
    let setup_secs = setup_started.elapsed().as_secs_f64();
    target.check_alive()?;
    memory.ready = target.rss_kib()?;
    eprintln!(
        "{} (pid {}): {} clients ready in {setup_secs:.1} s; load running",
        kind.name(),
        target.pid(),
        args.connections
    );

    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1_764_000_000, |d| {
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
        });
    let start = Instant::now();
    let warmup = Duration::from_secs(args.warmup);
    let measured = Duration::from_secs(args.duration);
    let end = start + warmup + measured;
    let plan = Arc::new(Plan {
        start,
        warmup_ns: nanos(warmup),
        end_ns: nanos(warmup + measured),
        drain_end: end + Duration::from_secs(args.drain),
        window: args.window,
        interval: (args.rate > 0)
            .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64)),
        burst: args.burst,
        clients: args.connections,
    });
    let latencies = Arc::new(Latencies::new(64)?);
    let mut tasks = Vec::with_capacity(conns.len());
    for (index, conn) in conns.into_iter().enumerate() {
        let template = Template::new(&client::username(index ^ 1)?, stamp, index as u64 + 1)?;
        tasks.push(tokio::spawn(client::exchange(
            index,
            conn,
            template,
            Arc::clone(&plan),
            Arc::clone(&latencies),
        )));
    }
    sleep_until(start + warmup).await;
    let cpu_before = (target.cpu_seconds()?, child::cpu_seconds(None)?);
    sleep_until(end - measured.min(Duration::from_millis(200))).await;
    memory.loaded = target.rss_kib()?;
    sleep_until(end).await;
    let window_secs = (Instant::now() - (start + warmup)).as_secs_f64();
    let target_cores = (target.cpu_seconds()? - cpu_before.0) / window_secs;
    let loader_cores = (child::cpu_seconds(None)? - cpu_before.1) / window_secs;
    let load_average = report::load_average();
    let mut stats: Vec<ClientStats> = Vec::with_capacity(tasks.len());
    for task in tasks {
        stats.push(task.await?);
    }
    // Every connection is closed now.
    sleep(CLOSE_SETTLE).await;
    target.check_alive()?;
    memory.closed = target.rss_kib()?;
    memory.peak = target.peak_rss_kib()?;
    target.shutdown().await?;

    let measured_msgs: u64 = stats.iter().map(|s| s.measured).sum();
    let failures: Vec<&String> = stats.iter().filter_map(|s| s.failure.as_ref()).collect();
    Ok(LoadResult {
        target: kind.name(),
        connections: args.connections,
        window: args.window,
        rate: args.rate,
        burst: args.burst,
        duration: measured.as_secs_f64(),
        setup_secs,
        msgs_per_sec: measured_msgs as f64 / measured.as_secs_f64(),
        sent: stats.iter().map(|s| s.sent).sum(),
        writes: stats.iter().map(|s| s.writes).sum(),
        acked: stats.iter().map(|s| s.acked).sum(),
        errors: stats.iter().map(|s| s.errors).sum(),
        received: stats.iter().map(|s| s.received).sum(),
        unanswered: stats.iter().map(|s| s.unanswered).sum(),
        failed_clients: failures.len(),
        first_failure: failures.first().map(|f| (*f).clone()).or_else(|| {
            stats.iter().find_map(|s| {
                s.last_error
                    .map(|code| format!("ERR 0x{code:02x} answered a MSG"))
            })
        }),
        latency: Percentiles::of(&latencies.merged()?),
        memory,
        target_cores,
        loader_cores,
        load_average,
    })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
