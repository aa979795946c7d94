//! `slowreader`: what a logged-in client that stops reading costs the server,
//! and whether its messages survive.
//!
//! A reader (`u0`) logs in and then reads nothing from its socket, which
//! stays open. `--senders` clients (`u1`...) send it tagged MSGs with a
//! window of unanswered ones each, for `--seconds` (or until the server's
//! RSS reaches `--max-rss-mib`). The server's RSS and the OK count are
//! printed every second. Then the senders stop, and the reader either hangs
//! up (`--then hangup`: a new connection tries to log in as the reader until
//! the server accepts it, which needs the old session to have ended, and
//! asks for the stored messages) or starts reading (`--then read`: it asks
//! for its stored messages on the same connection and reads everything).
//! Either way every RECIV is read until each OK'd message came or none came
//! for `--quiet` seconds, and the report counts the OK'd messages never
//! received (lost), the duplicates, and the times.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gochat_proto::{ErrorCode, ServerCommand};
use tokio::sync::watch;
use tokio::time::{Instant, sleep};

use crate::child::Target;
use crate::client::{self, Conn, username};
use crate::keys::UserKey;
use crate::report::quote;
use crate::sampler::{Phase, Sampler, series_json, series_text};
use crate::tagged::{
    self, Bits, Collect, Expected, Live, SendStats, Sender, Tagged, Tally, Until, describe_errors,
    unix_now,
};
use crate::{Result, SlowreaderArgs, Then, derive_keys, err};

/// How long stopped senders wait for the answers to their last MSGs.
const ANSWER_WAIT: Duration = Duration::from_secs(30);
/// Pause between two login attempts of the reader after it hung up.
const LOGIN_RETRY: Duration = Duration::from_millis(50);

/// Runs the mode and prints its report.
pub async fn run(args: &SlowreaderArgs) -> Result<()> {
    if args.senders == 0 || args.seconds == 0 || args.window == 0 || args.quiet == 0 {
        return Err(err(
            "--senders, --seconds, --window and --quiet must be positive",
        ));
    }
    tagged::check_size(args.size)?;
    let kind = args.server.kind()?;
    let users = args.senders + 1;
    let keys = tokio::task::spawn_blocking(move || derive_keys(users)).await??;
    let mut target = Target::spawn(&kind).await?;
    sleep(Duration::from_millis(300)).await;
    let fresh = target.rss_kib()?;
    let port = target.port;
    let pid = target.pid();
    eprintln!(
        "{} (pid {pid}) on {}: {fresh} KiB fresh; logging in the reader u0 and {} senders",
        kind.name(),
        kind.database(),
        args.senders
    );
    let reader_key = keys[0].clone();
    let reader = client::login(port, 0, keys[0].clone()).await?;
    let to = username(0)?;
    let stamp = unix_now();
    let mut senders = Vec::with_capacity(args.senders);
    for (index, key) in keys.into_iter().enumerate().skip(1) {
        let conn = client::login(port, index, key).await?;
        let template = Tagged::new(&to, stamp, args.size, index as u64)?;
        senders.push(Sender::new(u32::try_from(index)?, conn, template));
    }
    sleep(Duration::from_secs(1)).await;
    target.check_alive()?;
    let idle = target.rss_kib()?;
    eprintln!(
        "idle RSS {idle} KiB; the reader stops reading; {} senders flood it for {} s (window {}, {}-byte ciphertexts)",
        args.senders, args.seconds, args.window, args.size
    );

    // The flood.
    let live = Arc::new(Live::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let sampler = Sampler::start(
        pid,
        idle,
        Phase::Flood,
        Arc::clone(&live),
        Some((args.max_rss_mib.saturating_mul(1024), Arc::clone(&stop_tx))),
    );
    let flood_started = Instant::now();
    let mut tasks = Vec::with_capacity(senders.len());
    for mut sender in senders {
        let until = Until {
            limit: None,
            stop: stop_rx.clone(),
            answers: ANSWER_WAIT,
        };
        let live = Arc::clone(&live);
        let window = args.window;
        tasks.push(tokio::spawn(async move {
            let stats = sender.send(window, until, &live).await;
            (sender, stats)
        }));
    }
    let mut guard = stop_rx.clone();
    tokio::select! {
        () = sleep(Duration::from_secs(args.seconds)) => {}
        _ = guard.wait_for(|stop| *stop) => {}
    }
    let flood_secs = flood_started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    sampler.set_phase(Phase::Drain);
    let mut sent = SendStats::default();
    let mut acked: Vec<Bits> = vec![Bits::default()];
    for task in tasks {
        let (sender, stats) = task.await?;
        sent.add(&stats);
        acked.push(sender.acked.clone());
    }
    let drain_secs = flood_started.elapsed().as_secs_f64() - flood_secs;
    target.check_alive()?;
    let at_stop = target.rss_kib()?;
    let guard_stopped = sampler.guard_hit();
    eprintln!(
        "flood stopped after {flood_secs:.1} s{}: {} sent, {} OK, ERRs: {}, {} unanswered",
        if guard_stopped {
            " by the RSS guard"
        } else {
            ""
        },
        sent.sent,
        sent.oks,
        describe_errors(&sent.errors),
        sent.unanswered
    );

    // The reader.
    let acked_refs: Vec<&Bits> = acked.iter().collect();
    let expected = Expected {
        acked: &acked_refs,
        total: sent.oks,
    };
    let mut tally = Tally::new(users);
    let how = Collect {
        request_first: true,
        ask_again: Duration::from_millis(args.ask_again_ms),
        quiet: Duration::from_secs(args.quiet),
        first_id: 10,
    };
    let mut relogin = None;
    let receive_started;
    let mut closed_by_server = false;
    match args.then {
        Then::Hangup => {
            sampler.set_phase(Phase::HungUp);
            let hung_up = Instant::now();
            drop(reader);
            eprintln!("the reader hung up; logging in as u0 again until the server lets it");
            let (conn, re) =
                log_in_again(&mut target, &reader_key, args.wait_limit, hung_up).await?;
            receive_started = re.logged_in;
            relogin = Some(re);
            sampler.set_phase(Phase::Receive);
            let (mut inbox, mut write) = tagged::split(conn);
            collect_all(&mut inbox, &mut write, &expected, &mut tally, &how, &live).await?;
        }
        Then::Read => {
            sampler.set_phase(Phase::Receive);
            receive_started = Instant::now();
            eprintln!("the reader starts reading");
            let (mut inbox, mut write) = tagged::split(reader);
            collect_all(&mut inbox, &mut write, &expected, &mut tally, &how, &live).await?;
            if tally.received.closed {
                // A server may close a connection that does not read: the
                // reader logs in again and catches up.
                closed_by_server = true;
                let closed_at = Instant::now();
                eprintln!("the server had closed the reader's connection; logging in again");
                drop((inbox, write));
                let (conn, re) =
                    log_in_again(&mut target, &reader_key, args.wait_limit, closed_at).await?;
                relogin = Some(re);
                tally.received.closed = false;
                let (mut inbox, mut write) = tagged::split(conn);
                collect_all(&mut inbox, &mut write, &expected, &mut tally, &how, &live).await?;
            }
        }
    }
    let samples = sampler.finish().await;
    target.check_alive()?;
    let end_rss = target.rss_kib()?;
    let peak = target.peak_rss_kib()?;
    target.shutdown().await?;

    let r = &tally.received;
    let lost = tally.lost(&expected);
    let complete = lost == 0;
    let done_at = r.complete_at.or(r.last_at);
    let secs = |from: Instant, to: Option<Instant>| to.map(|t| (t - from).as_secs_f64());
    let receive_secs = secs(receive_started, done_at);
    let first_secs = secs(receive_started, r.first_at);
    let max_sample = samples.iter().map(|s| s.rss_kib).max().unwrap_or(at_stop);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let above = |kib: u64| (kib as f64 - idle as f64) / 1024.0;
    let fmt_secs = |s: Option<f64>| s.map_or("-".to_owned(), |s| format!("{s:.2} s"));

    println!(
        "target                      {} on {}",
        kind.name(),
        kind.database()
    );
    println!(
        "senders / window / size     {} / {} / {} bytes",
        args.senders, args.window, args.size
    );
    println!(
        "flood                       {flood_secs:.1} s of {} s asked{}; senders' last answers took {drain_secs:.1} s",
        args.seconds,
        if guard_stopped {
            format!(" (stopped by --max-rss-mib {})", args.max_rss_mib)
        } else {
            String::new()
        }
    );
    println!(
        "MSGs sent / OK / unanswered {} / {} / {} ({:.0} OKs/s)",
        sent.sent,
        sent.oks,
        sent.unanswered,
        sent.oks as f64 / flood_secs
    );
    println!(
        "MSG ERRs                    {}",
        describe_errors(&sent.errors)
    );
    if let Some(f) = &sent.failure {
        println!("first sender failure        {f}");
    }
    println!(
        "then                        {}",
        match args.then {
            Then::Hangup => "the reader hung up",
            Then::Read => "the reader read",
        }
    );
    println!(
        "received (OK'd, distinct)   {} of {}",
        r.acked_received, sent.oks
    );
    println!(
        "lost (OK'd, never received) {lost}{}",
        if lost > 0 { "  <-- must be 0" } else { "" }
    );
    println!("duplicates                  {}", r.duplicates);
    println!(
        "received without an OK      {} (MSGs unanswered or ERR'd, delivered anyway)",
        r.unacked_received
    );
    if r.foreign > 0 {
        println!("untagged RECIVs             {}", r.foreign);
    }
    println!(
        "RECIV requests              {} (OK {}, ERR_EMPTY {}, other ERRs: {})",
        r.requests,
        r.request_oks,
        r.request_empty,
        describe_errors(&r.request_errors)
    );
    println!("RSS fresh / idle            {fresh} / {idle} KiB");
    println!(
        "RSS when the flood stopped  {at_stop} KiB ({:+.1} MiB above idle)",
        above(at_stop)
    );
    println!(
        "RSS peak above idle         {:.1} MiB (peak {:.1} MiB, VmHWM; largest sample {:.1} MiB)",
        above(peak),
        mib(peak),
        mib(max_sample)
    );
    println!("RSS at the end              {end_rss} KiB");
    let quiet_note = if r.went_quiet {
        format!(" (ended by {} s without a RECIV)", args.quiet)
    } else {
        String::new()
    };
    let catch_up_secs = relogin.as_ref().and_then(|re| secs(re.logged_in, done_at));
    if args.then == Then::Read {
        println!(
            "read -> all received        {}{}",
            fmt_secs(receive_secs),
            if relogin.is_none() { &quiet_note } else { "" }
        );
    }
    if closed_by_server {
        println!(
            "the server had closed the reader's connection{}: read until {} after the start",
            r.server_error
                .map(|code| format!(
                    " (after {})",
                    ErrorCode::from_code(code).map_or("?", ErrorCode::name)
                ))
                .unwrap_or_default(),
            fmt_secs(secs(receive_started, relogin.as_ref().map(|re| re.hung_up)))
        );
    }
    if let Some(re) = &relogin {
        let from = if closed_by_server { "close" } else { "hang-up" };
        println!(
            "{from:<7} -> login accepted   {:.2} s ({} attempts; refusals: {}; connection failures {})",
            (re.logged_in - re.hung_up).as_secs_f64(),
            re.attempts,
            describe_errors(&re.refusals),
            re.failures
        );
        println!(
            "{from:<7} -> all received     {}",
            fmt_secs(secs(re.hung_up, done_at))
        );
        println!(
            "catch-up (login -> end)     {}{quiet_note}",
            fmt_secs(catch_up_secs)
        );
    }
    println!("first RECIV after           {}", fmt_secs(first_secs));
    println!("RSS MiB each second         {}", series_text(&samples));
    if args.json {
        let opt = |v: Option<f64>| v.map_or("null".to_owned(), |v| format!("{v:.3}"));
        let errors: Vec<String> = sent
            .errors
            .iter()
            .map(|(code, n)| format!("\"0x{code:02x}\":{n}"))
            .collect();
        println!(
            "{{\"mode\":\"slowreader\",\"target\":{},\"database\":{},\"senders\":{},\"window\":{},\
             \"size\":{},\"seconds\":{},\"flood_s\":{flood_secs:.3},\"guard_stopped\":{guard_stopped},\
             \"max_rss_mib\":{},\"then\":{},\"sent\":{},\"oks\":{},\"errors\":{{{}}},\"unanswered\":{},\
             \"sender_failure\":{},\"received\":{},\"lost\":{lost},\"duplicates\":{},\
             \"received_without_ok\":{},\"untagged\":{},\"reciv_requests\":{},\"complete\":{complete},\
             \"went_quiet\":{},\"closed_by_server\":{closed_by_server},\"ask_again_ms\":{},\"rss_kib\":{{\"fresh\":{fresh},\"idle\":{idle},\"at_stop\":{at_stop},\
             \"peak\":{peak},\"largest_sample\":{max_sample},\"end\":{end_rss}}},\
             \"peak_above_idle_kib\":{},\"hangup_to_login_s\":{},\"login_attempts\":{},\
             \"hangup_to_complete_s\":{},\"catch_up_s\":{},\"receive_s\":{},\"first_reciv_s\":{},\"rss_series\":{}}}",
            quote(&kind.name()),
            quote(&kind.database()),
            args.senders,
            args.window,
            args.size,
            args.seconds,
            args.max_rss_mib,
            quote(match args.then {
                Then::Hangup => "hangup",
                Then::Read => "read",
            }),
            sent.sent,
            sent.oks,
            errors.join(","),
            sent.unanswered,
            sent.failure.as_deref().map_or("null".to_owned(), quote),
            r.acked_received,
            r.duplicates,
            r.unacked_received,
            r.foreign,
            r.requests,
            r.went_quiet,
            args.ask_again_ms,
            peak.saturating_sub(idle),
            opt(relogin
                .as_ref()
                .map(|re| (re.logged_in - re.hung_up).as_secs_f64())),
            relogin
                .as_ref()
                .map_or("null".to_owned(), |re| re.attempts.to_string()),
            opt(relogin.as_ref().and_then(|re| secs(re.hung_up, done_at))),
            opt(catch_up_secs),
            opt(receive_secs),
            opt(first_secs),
            series_json(&samples),
        );
    }
    if lost > 0 {
        return Err(err(format!("{lost} OK'd messages were never received")));
    }
    Ok(())
}

/// Logs in as the reader (`u0`) on new connections until the server lets
/// it (it refuses while the old session lasts), giving up after
/// `wait_limit` seconds.
async fn log_in_again(
    target: &mut Target,
    key: &UserKey,
    wait_limit: u64,
    since: Instant,
) -> Result<(Conn, Relogin)> {
    let mut attempts: u64 = 0;
    let mut refusals: BTreeMap<u8, u64> = BTreeMap::new();
    let mut failures: u64 = 0;
    let limit = Duration::from_secs(wait_limit);
    let conn = loop {
        attempts += 1;
        match client::log_in(target.port, 0, key).await {
            Ok(Ok(conn)) => break conn,
            Ok(Err(ServerCommand::Err(code))) => {
                *refusals.entry(code.code()).or_default() += 1;
            }
            Ok(Err(other)) => {
                return Err(err(format!("LOGIN as the reader again: got {other:?}")));
            }
            Err(_) => failures += 1,
        }
        target.check_alive()?;
        if since.elapsed() >= limit {
            return Err(err(format!(
                "the reader could not log in again within {wait_limit} s ({attempts} attempts; refusals: {})",
                describe_errors(&refusals)
            )));
        }
        sleep(LOGIN_RETRY).await;
    };
    let logged_in = Instant::now();
    eprintln!(
        "logged in again {:.2} s later ({attempts} attempts); catching up",
        (logged_in - since).as_secs_f64()
    );
    Ok((
        conn,
        Relogin {
            hung_up: since,
            logged_in,
            attempts,
            refusals,
            failures,
        },
    ))
}

/// The reader's second login, after it hung up (or the server closed its
/// connection).
struct Relogin {
    hung_up: Instant,
    logged_in: Instant,
    attempts: u64,
    refusals: BTreeMap<u8, u64>,
    failures: u64,
}

async fn collect_all(
    inbox: &mut tagged::Inbox,
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    expected: &Expected<'_>,
    tally: &mut Tally,
    how: &Collect,
    live: &Live,
) -> Result<()> {
    tagged::collect(inbox, write, expected, tally, how, live).await?;
    let r = &tally.received;
    eprintln!(
        "received {} of {} OK'd messages ({} duplicates){}",
        r.acked_received,
        expected.total,
        r.duplicates,
        if r.went_quiet {
            " before the reader went quiet"
        } else {
            ""
        }
    );
    Ok(())
}
