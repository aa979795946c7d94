//! `catchup`: how fast a reader gets the messages stored while it was
//! offline.
//!
//! Each round, a sender (`u1`, logged in throughout) sends `--messages`
//! tagged MSGs to the offline reader (`u0`), pipelined with a window, and
//! waits for every OK: the server stores them all. The reader then logs in
//! on a new connection and writes RECIV; from that write the round measures
//! the time to the OK, to the first stored message (a null-id RECIV) and to
//! the last one, and checks that exactly the round's messages came, once
//! each. The reader logs out (reading until the OK, so that anything more
//! the server sends is counted) before the next round stores again.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep};

use crate::child::Target;
use crate::client::{self, username};
use crate::report::quote;
use crate::tagged::{
    self, Bits, Collect, Expected, Live, Sender, Tagged, Tally, Until, describe_errors, unix_now,
};
use crate::{CatchupArgs, Result, derive_keys, err, median};

/// How long the sender waits for the answers to the last MSGs of a round.
const ANSWER_WAIT: Duration = Duration::from_secs(120);

/// One round's figures.
#[derive(Debug, Clone)]
struct Round {
    store_secs: f64,
    /// RECIV written -> its OK, in ms.
    ok_ms: Option<f64>,
    /// RECIV written -> first stored message, in ms.
    first_ms: Option<f64>,
    /// RECIV written -> last stored message, in ms.
    last_ms: Option<f64>,
    received: u64,
    duplicates: u64,
    /// Messages that were not this round's.
    extra: u64,
    requests: u32,
    empty: u32,
    complete: bool,
    /// CPU the server used from the RECIV to the end of the catch-up, in ms.
    server_cpu_ms: f64,
    /// CPU this loader used meanwhile (reading and checking every RECIV), in ms.
    loader_cpu_ms: f64,
}

impl Round {
    fn msgs_per_sec(&self, messages: u64) -> Option<f64> {
        self.last_ms
            .filter(|ms| *ms > 0.0 && self.complete)
            .map(|ms| messages as f64 * 1000.0 / ms)
    }
}

/// Runs the mode and prints its report.
pub async fn run(args: &CatchupArgs) -> Result<()> {
    if args.messages == 0 || args.repeat == 0 || args.window == 0 || args.quiet == 0 {
        return Err(err(
            "--messages, --repeat, --window and --quiet must be positive",
        ));
    }
    tagged::check_size(args.size)?;
    let kind = args.server.kind()?;
    let keys = tokio::task::spawn_blocking(|| derive_keys(2)).await??;
    let mut target = Target::spawn(&kind).await?;
    sleep(Duration::from_millis(300)).await;
    let fresh = target.rss_kib()?;
    let port = target.port;
    eprintln!(
        "{} (pid {}) on {}: {fresh} KiB fresh; {} rounds of {} stored messages ({}-byte ciphertexts)",
        kind.name(),
        target.pid(),
        kind.database(),
        args.repeat,
        args.messages,
        args.size
    );
    client::register(port, 0, &keys[0]).await?;
    let conn = client::login(port, 1, keys[1].clone()).await?;
    let template = Tagged::new(&username(0)?, unix_now(), args.size, 1)?;
    let mut sender = Sender::new(1, conn, template);
    let live = Live::default();
    // Never set: the rounds end by their message count.
    let (_stop_tx, stop_rx) = watch::channel(false);
    let nobody = Bits::default();
    let mut rounds: Vec<Round> = Vec::with_capacity(args.repeat);
    let mut failure: Option<String> = None;
    for round in 1..=args.repeat {
        sender.acked = Bits::default();
        let store_started = Instant::now();
        let stats = sender
            .send(
                args.window,
                Until {
                    limit: Some(args.messages),
                    stop: stop_rx.clone(),
                    answers: ANSWER_WAIT,
                },
                &live,
            )
            .await;
        let store_secs = store_started.elapsed().as_secs_f64();
        if stats.oks != args.messages {
            failure = Some(format!(
                "round {round}: {} of {} MSGs OK'd (ERRs: {}; {})",
                stats.oks,
                args.messages,
                describe_errors(&stats.errors),
                stats.failure.as_deref().unwrap_or("no failure")
            ));
            break;
        }
        target.check_alive()?;

        let conn = match client::log_in(port, 0, &keys[0]).await? {
            Ok(conn) => conn,
            Err(other) => return Err(err(format!("round {round}: LOGIN got {other:?}"))),
        };
        let (mut inbox, mut write) = tagged::split(conn);
        let acked = [&nobody, &sender.acked];
        let expected = Expected {
            acked: &acked,
            total: args.messages,
        };
        let mut tally = Tally::new(2);
        let how = Collect {
            request_first: true,
            ask_again: Duration::from_millis(args.ask_again_ms),
            quiet: Duration::from_secs(args.quiet),
            first_id: 10,
        };
        let cpu_before = (target.cpu_seconds()?, crate::child::cpu_seconds(None)?);
        let asked = Instant::now();
        tagged::collect(&mut inbox, &mut write, &expected, &mut tally, &how, &live).await?;
        let server_cpu_ms = (target.cpu_seconds()? - cpu_before.0) * 1000.0;
        let loader_cpu_ms = (crate::child::cpu_seconds(None)? - cpu_before.1) * 1000.0;
        // Offline again before the next round; what comes before the OK is
        // counted (more than this round's messages would show here).
        tagged::logout(&mut inbox, &mut write, &expected, &mut tally, 1000).await?;
        drop((inbox, write));
        let r = &tally.received;
        let ms = |t: Option<Instant>| t.map(|t| (t - asked).as_secs_f64() * 1000.0);
        let figures = Round {
            store_secs,
            ok_ms: if r.request_oks > 0 || r.request_empty > 0 {
                ms(r.first_answer_at)
            } else {
                None
            },
            first_ms: ms(r.first_at),
            last_ms: ms(r.complete_at.or(r.last_at)),
            received: r.acked_received,
            duplicates: r.duplicates,
            extra: r.unacked_received + r.foreign,
            requests: r.requests,
            empty: r.request_empty,
            complete: r.acked_received == args.messages
                && r.duplicates == 0
                && r.unacked_received == 0
                && r.foreign == 0,
            server_cpu_ms,
            loader_cpu_ms,
        };
        eprintln!(
            "round {round}: stored {} in {store_secs:.2} s ({:.0}/s); RECIV -> OK {} ms, first {} ms, last {} ms; CPU server {:.0} ms, loader {:.0} ms; received {} (duplicates {}, others {}, RECIV requests {})",
            args.messages,
            args.messages as f64 / store_secs,
            fmt_ms(figures.ok_ms),
            fmt_ms(figures.first_ms),
            fmt_ms(figures.last_ms),
            figures.server_cpu_ms,
            figures.loader_cpu_ms,
            figures.received,
            figures.duplicates,
            figures.extra,
            figures.requests
        );
        let complete = figures.complete;
        rounds.push(figures);
        if !complete {
            failure = Some(format!(
                "round {round}: received {} of {} stored messages ({} duplicates, {} others)",
                r.acked_received,
                args.messages,
                r.duplicates,
                r.unacked_received + r.foreign
            ));
            break;
        }
    }
    target.check_alive()?;
    let peak = target.peak_rss_kib()?;
    let end_rss = target.rss_kib()?;
    target.shutdown().await?;

    let stat = |f: &dyn Fn(&Round) -> Option<f64>| Spread::of(rounds.iter().filter_map(f));
    let ok = stat(&|r| r.ok_ms);
    let first = stat(&|r| r.first_ms);
    let last = stat(&|r| r.last_ms);
    let rate = stat(&|r| r.msgs_per_sec(args.messages));
    let store_rate = stat(&|r| Some(args.messages as f64 / r.store_secs));

    println!(
        "target                  {} on {}",
        kind.name(),
        kind.database()
    );
    println!(
        "stored per round        {} messages of {} bytes (sender window {})",
        args.messages, args.size, args.window
    );
    println!(
        "rounds                  {} of {}",
        rounds.len(),
        args.repeat
    );
    println!("                        min        median     max");
    println!("RECIV -> OK (ms)        {}", ok.text(1));
    println!("RECIV -> first (ms)     {}", first.text(1));
    println!("RECIV -> last (ms)      {}", last.text(1));
    println!("catch-up msgs/s         {}", rate.text(0));
    let server_cpu = stat(&|r| Some(r.server_cpu_ms));
    let loader_cpu = stat(&|r| Some(r.loader_cpu_ms));
    println!("catch-up CPU server ms  {}", server_cpu.text(0));
    println!("catch-up CPU loader ms  {}", loader_cpu.text(0));
    println!("storing msgs/s          {}", store_rate.text(0));
    let requests: Vec<String> = rounds.iter().map(|r| r.requests.to_string()).collect();
    println!(
        "RECIV requests          {} (per round; more than 1: the reader had to ask again)",
        requests.join(" ")
    );
    println!("RSS fresh / peak / end  {fresh} / {peak} / {end_rss} KiB");
    if let Some(f) = &failure {
        println!("FAILED                  {f}");
    }
    if args.json {
        let items: Vec<String> = rounds
            .iter()
            .map(|r| {
                format!(
                    "{{\"store_s\":{:.3},\"ok_ms\":{},\"first_ms\":{},\"last_ms\":{},\"msgs_per_s\":{},\
                     \"received\":{},\"duplicates\":{},\"others\":{},\"requests\":{},\"empty\":{},\"complete\":{},\
                     \"server_cpu_ms\":{:.1},\"loader_cpu_ms\":{:.1}}}",
                    r.store_secs,
                    json_num(r.ok_ms),
                    json_num(r.first_ms),
                    json_num(r.last_ms),
                    json_num(r.msgs_per_sec(args.messages)),
                    r.received,
                    r.duplicates,
                    r.extra,
                    r.requests,
                    r.empty,
                    r.complete,
                    r.server_cpu_ms,
                    r.loader_cpu_ms
                )
            })
            .collect();
        println!(
            "{{\"mode\":\"catchup\",\"target\":{},\"database\":{},\"messages\":{},\"size\":{},\
             \"window\":{},\"repeat\":{},\"ask_again_ms\":{},\"rounds\":[{}],\"ok_ms\":{},\"first_ms\":{},\"last_ms\":{},\
             \"msgs_per_s\":{},\"store_msgs_per_s\":{},\"rss_kib\":{{\"fresh\":{fresh},\"peak\":{peak},\
             \"end\":{end_rss}}},\"failure\":{}}}",
            quote(&kind.name()),
            quote(&kind.database()),
            args.messages,
            args.size,
            args.window,
            args.repeat,
            args.ask_again_ms,
            items.join(","),
            ok.json(),
            first.json(),
            last.json(),
            rate.json(),
            store_rate.json(),
            failure.as_deref().map_or("null".to_owned(), quote),
        );
    }
    match failure {
        Some(f) => Err(err(f)),
        None => Ok(()),
    }
}

fn fmt_ms(ms: Option<f64>) -> String {
    ms.map_or("-".to_owned(), |ms| format!("{ms:.1}"))
}

fn json_num(v: Option<f64>) -> String {
    v.map_or("null".to_owned(), |v| format!("{v:.3}"))
}

/// Minimum, median and maximum of some values.
#[derive(Debug, Clone, Copy)]
struct Spread {
    min: f64,
    median: f64,
    max: f64,
}

impl Spread {
    fn of(values: impl Iterator<Item = f64>) -> Option<Spread> {
        let values: Vec<f64> = values.collect();
        Some(Spread {
            min: values.iter().copied().reduce(f64::min)?,
            median: median(&values)?,
            max: values.iter().copied().reduce(f64::max)?,
        })
    }
}

trait SpreadText {
    fn text(&self, decimals: usize) -> String;
    fn json(&self) -> String;
}

impl SpreadText for Option<Spread> {
    fn text(&self, decimals: usize) -> String {
        match self {
            Some(s) => format!(
                "{:<10.decimals$} {:<10.decimals$} {:.decimals$}",
                s.min, s.median, s.max
            ),
            None => "-".to_owned(),
        }
    }

    fn json(&self) -> String {
        match self {
            Some(s) => format!(
                "{{\"min\":{:.3},\"median\":{:.3},\"max\":{:.3}}}",
                s.min, s.median, s.max
            ),
            None => "null".to_owned(),
        }
    }
}
