//! `idle`: what idle connections cost the server, and whether it gives the
//! memory back when they leave.
//!
//! Starts a fresh server, reads its RSS, opens `--connections` connections
//! that read HELLO (and, with `--login`, register and log in) and then stay
//! idle, reads RSS again, closes them all and reads RSS once more.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout};

use crate::child::Target;
use crate::client::{self, Conn};
use crate::report::quote;
use crate::{IdleArgs, Result, SETUP_TIMEOUT, derive_keys, err, raise_nofile};

/// Runs the idle measurement and prints its report.
pub async fn run(args: &IdleArgs) -> Result<()> {
    let limit = raise_nofile()?;
    if args.connections as u64 + 64 > limit {
        return Err(err(format!(
            "{} connections need more than the open-file limit {limit}",
            args.connections
        )));
    }
    let kind = args.server.kind()?;
    let mut keys = if args.login {
        let n = args.connections;
        Some(tokio::task::spawn_blocking(move || derive_keys(n)).await??)
    } else {
        None
    };
    let mut target = Target::spawn(&kind).await?;
    sleep(Duration::from_millis(500)).await;
    let fresh = target.rss_kib()?;
    let fresh_anon = target.anon_rss_kib()?;
    let fresh_fds = target.open_fds()?;
    eprintln!(
        "{} (pid {}): {fresh} KiB fresh; opening {} connections{}",
        kind.name(),
        target.pid(),
        args.connections,
        if args.login { " with logins" } else { "" }
    );
    sleep(Duration::from_secs(args.pause)).await;

    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut set = JoinSet::new();
    let port = target.port;
    for index in 0..args.connections {
        let permit = Arc::clone(&gate).acquire_owned().await?;
        let key = keys.as_mut().and_then(|k| k.pop());
        set.spawn(async move {
            let conn = match key {
                Some(key) => client::login(port, index, key).await,
                None => client::connect_idle(port).await,
            };
            drop(permit);
            conn
        });
    }
    let mut conns: Vec<Conn> = Vec::with_capacity(args.connections);
    let mut failed = 0usize;
    let mut first_failure = None;
    let collect = async {
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(conn)) => conns.push(conn),
                Ok(Err(e)) => {
                    failed += 1;
                    first_failure.get_or_insert_with(|| e.to_string());
                }
                Err(e) => {
                    failed += 1;
                    first_failure.get_or_insert_with(|| e.to_string());
                }
            }
        }
    };
    timeout(SETUP_TIMEOUT, collect)
        .await
        .map_err(|_| err("opening the connections took too long"))?;
    let open_secs = started.elapsed().as_secs_f64();
    let opened = conns.len();

    sleep(Duration::from_secs(args.settle)).await;
    target.check_alive()?;
    let idle = target.rss_kib()?;
    let idle_anon = target.anon_rss_kib()?;
    let idle_fds = target.open_fds()?;
    let peak = target.peak_rss_kib()?;
    drop(conns);
    sleep(Duration::from_secs(args.after)).await;
    target.check_alive()?;
    let after = target.rss_kib()?;
    let after_anon = target.anon_rss_kib()?;
    let after_fds = target.open_fds()?;
    target.shutdown().await?;

    let per_conn = if opened == 0 {
        0.0
    } else {
        idle.saturating_sub(fresh) as f64 / opened as f64
    };
    let above = |kib: u64| kib as f64 / 1024.0 - fresh as f64 / 1024.0;
    println!("target                      {}", kind.name());
    println!(
        "connections open / failed   {opened} / {failed} (in {open_secs:.1} s{})",
        if args.login { ", logged in" } else { "" }
    );
    println!("server fds fresh/open/after {fresh_fds} / {idle_fds} / {after_fds}");
    println!("RSS fresh                   {fresh} KiB (anon {fresh_anon})");
    println!(
        "RSS with all open           {idle} KiB (anon {idle_anon}; +{:.1} MiB, {per_conn:.2} KiB per connection)",
        above(idle)
    );
    println!("RSS peak                    {peak} KiB");
    println!(
        "RSS {} s after closing       {after} KiB (anon {after_anon}; {:+.1} MiB from fresh)",
        args.after,
        above(after)
    );
    if let Some(f) = &first_failure {
        println!("first failure               {f}");
    }
    if args.json {
        println!(
            "{{\"mode\":\"idle\",\"target\":{},\"login\":{},\"connections\":{opened},\
             \"failed\":{failed},\"open_s\":{open_secs:.2},\"rss_kib\":{{\"fresh\":{fresh},\
             \"idle\":{idle},\"peak\":{peak},\"after\":{after}}},\"anon_kib\":{{\"fresh\":{fresh_anon},\
             \"idle\":{idle_anon},\"after\":{after_anon}}},\"fds\":{{\"fresh\":{fresh_fds},\
             \"idle\":{idle_fds},\"after\":{after_fds}}},\"kib_per_connection\":{per_conn:.3},\
             \"first_failure\":{}}}",
            quote(&kind.name()),
            args.login,
            first_failure.as_deref().map_or("null".to_owned(), quote),
        );
    }
    Ok(())
}
