//! Latency recording and the reports: a human table and one JSON line.

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

use hdrhistogram::Histogram;

use crate::Result;

/// Highest latency recorded (larger values are clamped): 60 s in ns.
const MAX_LATENCY_NS: u64 = 60_000_000_000;
/// Resolution floor: 1 µs.
const MIN_LATENCY_NS: u64 = 1_000;

/// Latency histograms in ns, sharded so that clients on different threads
/// rarely share a lock.
pub struct Latencies {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Latencies {
    /// `shards` empty histograms (3 significant digits, 1 µs to 60 s).
    pub fn new(shards: usize) -> Result<Latencies> {
        let shards = (0..shards.max(1))
            .map(|_| empty_histogram().map(Mutex::new))
            .collect::<Result<_>>()?;
        Ok(Latencies { shards })
    }

    /// Records latencies (ns) into the shard for `key`.
    pub fn record(&self, key: usize, samples: &[u64]) {
        let shard = &self.shards[key % self.shards.len()];
        let mut hist = shard.lock().unwrap_or_else(PoisonError::into_inner);
        for &ns in samples {
            hist.saturating_record(ns.max(MIN_LATENCY_NS));
        }
    }

    /// All shards added up.
    pub fn merged(&self) -> Result<Histogram<u64>> {
        let mut total = empty_histogram()?;
        for shard in &self.shards {
            let hist = shard.lock().unwrap_or_else(PoisonError::into_inner);
            total.add(&*hist)?;
        }
        Ok(total)
    }
}

fn empty_histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(
        MIN_LATENCY_NS,
        MAX_LATENCY_NS,
        3,
    )?)
}

/// Latency percentiles in microseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct Percentiles {
    /// Number of samples.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

impl Percentiles {
    /// Reads the percentiles of a histogram in ns.
    pub fn of(hist: &Histogram<u64>) -> Percentiles {
        let us = |ns: u64| ns as f64 / 1_000.0;
        Percentiles {
            samples: hist.len(),
            p50: us(hist.value_at_quantile(0.50)),
            p90: us(hist.value_at_quantile(0.90)),
            p99: us(hist.value_at_quantile(0.99)),
            p999: us(hist.value_at_quantile(0.999)),
            max: us(hist.max()),
        }
    }
}

/// Resident memory of the target at each stage of a run, KiB.
#[derive(Debug, Default, Clone, Copy)]
pub struct Memory {
    /// Freshly started.
    pub fresh: u64,
    /// All clients connected (and logged in).
    pub ready: u64,
    /// At the end of the measurement, connections still open.
    pub loaded: u64,
    /// A few seconds after every client disconnected.
    pub closed: u64,
    /// Peak (VmHWM) before it was stopped.
    pub peak: u64,
}

/// The outcome of one load run against one target.
#[derive(Debug, Default, Clone)]
pub struct LoadResult {
    /// `gochat/tokio`, `gochat/smol` or `relay/tokio`.
    pub target: String,
    /// Clients.
    pub connections: usize,
    /// MSGs in flight per client.
    pub window: usize,
    /// Pacing over all clients, msgs/s; 0 for window-bound.
    pub rate: u64,
    /// With pacing: messages each client writes at once.
    pub burst: usize,
    /// Measured seconds (after the warm-up).
    pub duration: f64,
    /// Seconds to connect (and register and log in) every client.
    pub setup_secs: f64,
    /// RECIVs read per second in the measurement window.
    pub msgs_per_sec: f64,
    /// MSGs written in all.
    pub sent: u64,
    /// Write calls the loader made for them.
    pub writes: u64,
    /// OKs read in all.
    pub acked: u64,
    /// ERR replies read in all.
    pub errors: u64,
    /// RECIVs read in all.
    pub received: u64,
    /// Replies missing when the clients stopped.
    pub unanswered: u64,
    /// Clients that stopped on an error, and the first error.
    pub failed_clients: usize,
    /// The first client error, if any.
    pub first_failure: Option<String>,
    /// MSG written -> RECIV read.
    pub latency: Percentiles,
    /// Target memory.
    pub memory: Memory,
    /// Cores the target kept busy during the measurement.
    pub target_cores: f64,
    /// Cores the loader kept busy during the measurement.
    pub loader_cores: f64,
    /// The machine's 1-minute load average at the end of the measurement
    /// (other work sharing the cores shows here).
    pub load_average: f64,
}

impl LoadResult {
    /// Target CPU time per delivered message, µs.
    pub fn target_us_per_msg(&self) -> f64 {
        if self.msgs_per_sec > 0.0 {
            self.target_cores * 1e6 / self.msgs_per_sec
        } else {
            0.0
        }
    }
}

/// Prints the results side by side, with `first / last` ratios when there
/// are two (gochat against the relay).
pub fn print_table(results: &[LoadResult]) {
    let ratio = |f: &dyn Fn(&LoadResult) -> f64| match results {
        [a, b] if f(b) != 0.0 => format!("{:.3}", f(a) / f(b)),
        _ => String::new(),
    };
    let mut rows: Vec<(String, Vec<String>, String)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&LoadResult) -> String, r: String| {
        rows.push((name.to_owned(), results.iter().map(f).collect(), r));
    };
    row("connections", &|r| r.connections.to_string(), String::new());
    row("window", &|r| r.window.to_string(), String::new());
    row(
        "rate (msgs/s)",
        &|r| {
            if r.rate == 0 {
                "unlimited".to_owned()
            } else if r.burst > 1 {
                format!("{} (bursts of {})", r.rate, r.burst)
            } else {
                r.rate.to_string()
            }
        },
        String::new(),
    );
    row(
        "setup (s)",
        &|r| format!("{:.1}", r.setup_secs),
        String::new(),
    );
    row(
        "messages/s",
        &|r| format!("{:.0}", r.msgs_per_sec),
        ratio(&|r| r.msgs_per_sec),
    );
    row(
        "target CPU (cores)",
        &|r| format!("{:.2}", r.target_cores),
        ratio(&|r| r.target_cores),
    );
    row(
        "loader CPU (cores)",
        &|r| format!("{:.2}", r.loader_cores),
        ratio(&|r| r.loader_cores),
    );
    row(
        "target CPU µs/msg",
        &|r| format!("{:.2}", r.target_us_per_msg()),
        ratio(&LoadResult::target_us_per_msg),
    );
    row(
        "latency p50 (µs)",
        &|r| format!("{:.0}", r.latency.p50),
        ratio(&|r| r.latency.p50),
    );
    row(
        "latency p90 (µs)",
        &|r| format!("{:.0}", r.latency.p90),
        ratio(&|r| r.latency.p90),
    );
    row(
        "latency p99 (µs)",
        &|r| format!("{:.0}", r.latency.p99),
        ratio(&|r| r.latency.p99),
    );
    row(
        "latency p99.9 (µs)",
        &|r| format!("{:.0}", r.latency.p999),
        ratio(&|r| r.latency.p999),
    );
    row(
        "latency max (µs)",
        &|r| format!("{:.0}", r.latency.max),
        String::new(),
    );
    row(
        "machine load avg (1 min)",
        &|r| format!("{:.2}", r.load_average),
        String::new(),
    );
    row(
        "latency samples",
        &|r| r.latency.samples.to_string(),
        String::new(),
    );
    row(
        "sent / OK / ERR",
        &|r| format!("{} / {} / {}", r.sent, r.acked, r.errors),
        String::new(),
    );
    row(
        "MSGs per write (loader)",
        &|r| format!("{:.2}", r.sent as f64 / r.writes.max(1) as f64),
        String::new(),
    );
    row(
        "received / unanswered",
        &|r| format!("{} / {}", r.received, r.unanswered),
        String::new(),
    );
    row(
        "lost (OK'd, never received)",
        &|r| r.acked.saturating_sub(r.received).to_string(),
        String::new(),
    );
    row(
        "failed clients",
        &|r| r.failed_clients.to_string(),
        String::new(),
    );
    row(
        "RSS fresh (KiB)",
        &|r| r.memory.fresh.to_string(),
        String::new(),
    );
    row(
        "RSS ready (KiB)",
        &|r| r.memory.ready.to_string(),
        String::new(),
    );
    row(
        "RSS under load (KiB)",
        &|r| r.memory.loaded.to_string(),
        String::new(),
    );
    row(
        "RSS after close (KiB)",
        &|r| r.memory.closed.to_string(),
        String::new(),
    );
    row(
        "RSS peak (KiB)",
        &|r| r.memory.peak.to_string(),
        String::new(),
    );

    let mut header = vec!["".to_owned()];
    header.extend(results.iter().map(|r| r.target.clone()));
    if results.len() == 2 {
        header.push("ratio".to_owned());
    }
    let mut table: Vec<Vec<String>> = vec![header];
    for (name, values, r) in rows {
        let mut line = vec![name];
        line.extend(values);
        if results.len() == 2 {
            line.push(r);
        }
        table.push(line);
    }
    print_aligned(&table);
    for r in results {
        if let Some(f) = &r.first_failure {
            println!(
                "{}: {} client(s) failed, first: {f}",
                r.target, r.failed_clients
            );
        }
    }
}

fn print_aligned(table: &[Vec<String>]) {
    let columns = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .filter_map(|row| row.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            if c == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        println!("{}", line.trim_end());
    }
}

/// The 1-minute load average from `/proc/loadavg` (0 when unreadable).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// One run as a JSON object.
pub fn json(r: &LoadResult) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\"target\":{},\"connections\":{},\"window\":{},\"rate\":{},\"burst\":{},\"duration_s\":{:.3},\
         \"setup_s\":{:.3},\"msgs_per_s\":{:.1},\"sent\":{},\"writes\":{},\"acked\":{},\"errors\":{},\
         \"received\":{},\"unanswered\":{},\"failed_clients\":{},\"first_failure\":{},\
         \"latency_us\":{{\"samples\":{},\"p50\":{:.1},\"p90\":{:.1},\"p99\":{:.1},\
         \"p999\":{:.1},\"max\":{:.1}}},\"rss_kib\":{{\"fresh\":{},\"ready\":{},\
         \"loaded\":{},\"closed\":{},\"peak\":{}}},\"target_cores\":{:.3},\"loader_cores\":{:.3},\
         \"target_us_per_msg\":{:.3},\"load_average\":{:.2}}}",
        quote(&r.target),
        r.connections,
        r.window,
        r.rate,
        r.burst,
        r.duration,
        r.setup_secs,
        r.msgs_per_sec,
        r.sent,
        r.writes,
        r.acked,
        r.errors,
        r.received,
        r.unanswered,
        r.failed_clients,
        r.first_failure.as_deref().map_or("null".to_owned(), quote),
        r.latency.samples,
        r.latency.p50,
        r.latency.p90,
        r.latency.p99,
        r.latency.p999,
        r.latency.max,
        r.memory.fresh,
        r.memory.ready,
        r.memory.loaded,
        r.memory.closed,
        r.memory.peak,
        r.target_cores,
        r.loader_cores,
        r.target_us_per_msg(),
        r.load_average,
    );
    s
}

/// A JSON string literal.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
