//! The server's resident memory once a second while a mode runs, with a
//! progress line each time and an optional guard that says stop when the
//! server grows past a limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval};

use crate::child::proc_status_kib;
use crate::tagged::Live;

/// How often memory is read (and the guard checked).
const TICK: Duration = Duration::from_millis(200);
/// Ticks per recorded sample (one a second).
const TICKS_PER_SAMPLE: u32 = 5;

/// What the run is doing; samples are grouped by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Senders flooding the reader.
    Flood = 0,
    /// Senders stopped, waiting for their last answers.
    Drain = 1,
    /// The reader hung up; waiting until it can log in again.
    HungUp = 2,
    /// The reader receiving its messages.
    Receive = 3,
    /// Catch-up mode: storing messages for the offline reader.
    Store = 4,
}

impl Phase {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Flood => "flood",
            Phase::Drain => "drain",
            Phase::HungUp => "hung-up",
            Phase::Receive => "receive",
            Phase::Store => "store",
        }
    }

    fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Flood,
            1 => Phase::Drain,
            2 => Phase::HungUp,
            3 => Phase::Receive,
            _ => Phase::Store,
        }
    }
}

/// One sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the sampler started.
    pub at: f64,
    /// What was going on.
    pub phase: Phase,
    /// The server's `VmRSS`, KiB.
    pub rss_kib: u64,
    /// OKs to MSGs so far.
    pub oks: u64,
    /// Distinct messages received so far.
    pub received: u64,
}

/// The running sampler.
pub struct Sampler {
    phase: Arc<AtomicU8>,
    stopped: Arc<AtomicBool>,
    guard_hit: Arc<AtomicBool>,
    task: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    /// Starts sampling process `pid` in phase `phase`. With `guard`, when
    /// the RSS reaches `guard.0` KiB during [`Phase::Flood`], `guard.1` is
    /// set to true.
    pub fn start(
        pid: u32,
        idle_kib: u64,
        phase: Phase,
        live: Arc<Live>,
        guard: Option<(u64, Arc<watch::Sender<bool>>)>,
    ) -> Sampler {
        let phase = Arc::new(AtomicU8::new(phase as u8));
        let stopped = Arc::new(AtomicBool::new(false));
        let guard_hit = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(
            pid,
            idle_kib,
            Arc::clone(&phase),
            Arc::clone(&stopped),
            Arc::clone(&guard_hit),
            live,
            guard,
        ));
        Sampler {
            phase,
            stopped,
            guard_hit,
            task,
        }
    }

    /// Moves to another phase.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// Whether the guard stopped the flood.
    pub fn guard_hit(&self) -> bool {
        self.guard_hit.load(Ordering::Acquire)
    }

    /// Stops and returns the samples.
    pub async fn finish(self) -> Vec<Sample> {
        self.stopped.store(true, Ordering::Release);
        self.task.await.unwrap_or_default()
    }
}

async fn run(
    pid: u32,
    idle_kib: u64,
    phase: Arc<AtomicU8>,
    stopped: Arc<AtomicBool>,
    guard_hit: Arc<AtomicBool>,
    live: Arc<Live>,
    guard: Option<(u64, Arc<watch::Sender<bool>>)>,
) -> Vec<Sample> {
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut ticker = interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut ticks: u32 = 0;
    while !stopped.load(Ordering::Acquire) {
        ticker.tick().await;
        ticks += 1;
        // The server is gone when this fails; the mode reports that.
        let Ok(rss_kib) = proc_status_kib(pid, "VmRSS:") else {
            break;
        };
        let now_phase = Phase::from_u8(phase.load(Ordering::Acquire));
        if let Some((limit, stop)) = &guard
            && now_phase == Phase::Flood
            && rss_kib >= *limit
            && !guard_hit.swap(true, Ordering::AcqRel)
        {
            eprintln!(
                "server RSS {} MiB reached --max-rss-mib {}: stopping the flood",
                rss_kib / 1024,
                limit / 1024
            );
            let _ = stop.send(true);
        }
        if !ticks.is_multiple_of(TICKS_PER_SAMPLE) {
            continue;
        }
        let sample = Sample {
            at: started.elapsed().as_secs_f64(),
            phase: now_phase,
            rss_kib,
            oks: live.oks.load(Ordering::Relaxed),
            received: live.received.load(Ordering::Relaxed),
        };
        let ok_rate = samples.last().map_or(sample.oks as f64 / sample.at, |p| {
            (sample.oks - p.oks) as f64 / (sample.at - p.at)
        });
        samples.push(sample);
        // Every second while sending; every fifth second after.
        let busy = matches!(now_phase, Phase::Flood | Phase::Drain | Phase::HungUp);
        if !busy && !samples.len().is_multiple_of(5) {
            continue;
        }
        eprintln!(
            "{:5.0} s  {:<8} RSS {:7.1} MiB ({:+8.1})  OKs {:>9} ({:>7.0}/s)  ERRs {:>6}  received {:>9}",
            sample.at,
            sample.phase.name(),
            rss_kib as f64 / 1024.0,
            (rss_kib as f64 - idle_kib as f64) / 1024.0,
            sample.oks,
            ok_rate,
            live.errors.load(Ordering::Relaxed),
            sample.received
        );
    }
    samples
}

/// Most values shown per phase by [`series_text`].
const SHOWN_PER_PHASE: usize = 40;

/// The samples as `phase: MiB MiB ...` groups, in order. A phase with more
/// than 40 samples shows every k-th (and its last), said as `(every k s)`.
pub fn series_text(samples: &[Sample]) -> String {
    let mut out = String::new();
    let mut start = 0;
    while start < samples.len() {
        let phase = samples[start].phase;
        let len = samples[start..]
            .iter()
            .take_while(|s| s.phase == phase)
            .count();
        let group = &samples[start..start + len];
        start += len;
        if !out.is_empty() {
            out.push_str(" | ");
        }
        out.push_str(phase.name());
        let step = len.div_ceil(SHOWN_PER_PHASE);
        if step > 1 {
            out.push_str(&format!(" (every {step} s)"));
        }
        out.push(':');
        for (i, s) in group.iter().enumerate() {
            if i % step == 0 || i + 1 == len {
                out.push(' ');
                out.push_str(&(s.rss_kib / 1024).to_string());
            }
        }
    }
    out
}

/// The samples as a JSON array of `[phase, seconds, rss_kib, oks, received]`.
pub fn series_json(samples: &[Sample]) -> String {
    let items: Vec<String> = samples
        .iter()
        .map(|s| {
            format!(
                "[\"{}\",{:.1},{},{},{}]",
                s.phase.name(),
                s.at,
                s.rss_kib,
                s.oks,
                s.received
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}
