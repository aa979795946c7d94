//! Logging set-up in the original server's style, on `tracing`.
//!
//! Each line reads `YYYY/MM/DD HH:MM:SS <tag> <message>` (UTC), with the original's
//! tags. Log with these `tracing` levels so that each original log level shows what
//! it used to:
//!
//! | tracing macro | tag | shown at level |
//! |---|---|---|
//! | `info!(target: NOTICE_TARGET, …)` | `[*] Notification:` | always |
//! | `error!` | `[X]` | FATAL, ERROR, INFO, ALL |
//! | `warn!` (the original's errors) | `[E]` | ERROR, INFO, ALL |
//! | `info!` | `[I]` | INFO, ALL |
//! | `debug!`, `trace!` (connections, packet dumps) | `[-]` | ALL |
//!
//! Other crates' events (sqlx, rustls…) carry their target and are capped at
//! `info`. When `RUST_LOG` is set, its directives replace the level mapping
//! (notices stay on).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{LogLevel, Settings};

/// Target of the original's `[*]` notices (sockets up, shutdown), shown at every
/// level: `tracing::info!(target: NOTICE_TARGET, "Running TCP Socket on port {port}...")`.
pub const NOTICE_TARGET: &str = "gochat::notice";

/// Protocol version printed in the start-up banner.
pub const PROTOCOL_VERSION: u8 = 1;

/// The line printed once the server is up, as the original did.
pub const RUNNING_LINE: &str = "-- Server running and listening for connections! --";

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The log file's folder could not be created.
    #[error("cannot create the log folder {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The log file could not be opened for appending.
    #[error("cannot open the log file {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The level filter could not be built.
    #[error("invalid log filter: {0}")]
    Filter(String),
    /// A global subscriber was already installed.
    #[error("logging is already initialised: {0}")]
    AlreadyInitialised(String),
}

/// Keeps the log output alive; flushes the log file to disk when dropped. Hold it
/// until the server stops.
#[derive(Debug)]
#[must_use = "logging output is flushed when the guard is dropped"]
pub struct LogGuard {
    file: Option<Arc<File>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            // Nothing useful can be done if this fails at exit.
            let _ = file.sync_data();
        }
    }
}

/// The `EnvFilter` directives for a level: our crates (`gochat*`) at the mapped
/// level, other crates at most at `info`, and notices always.
pub fn filter_directives(level: LogLevel) -> String {
    let (ours, others) = match level {
        LogLevel::All => ("trace", "info"),
        LogLevel::Info => ("info", "info"),
        LogLevel::Error => ("warn", "warn"),
        LogLevel::Fatal => ("error", "error"),
    };
    format!("{others},gochat={ours},{NOTICE_TARGET}=trace")
}

/// Installs the global `tracing` subscriber for `settings.log_level`, writing to
/// stdout or appending to `settings.log_file` (whose folders are created).
pub fn init(settings: &Settings) -> Result<LogGuard, LoggingError> {
    let directives = match std::env::var("RUST_LOG") {
        Ok(custom) if !custom.trim().is_empty() => format!("{custom},{NOTICE_TARGET}=trace"),
        _ => filter_directives(settings.log_level),
    };
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| LoggingError::Filter(e.to_string()))?;

    let (writer, file) = match &settings.log_file {
        None => (BoxMakeWriter::new(std::io::stdout), None),
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| LoggingError::CreateDir {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| LoggingError::Open {
                    path: path.clone(),
                    source,
                })?;
            let file = Arc::new(file);
            (BoxMakeWriter::new(Arc::clone(&file)), Some(file))
        }
    };

    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .event_format(OriginalFormat)
        .try_init()
        .map_err(|e| LoggingError::AlreadyInitialised(e.to_string()))?;
    Ok(LogGuard { file })
}

/// The original's first start-up line:
/// `-> Logging at <time> with log level <LV> on server version <v> and protocol version 1`.
pub fn startup_banner(settings: &Settings) -> String {
    format!(
        "-> Logging at {} with log level {} on server version {} and protocol version {PROTOCOL_VERSION}",
        rfc822(SystemTime::now()),
        settings.log_level,
        env!("CARGO_PKG_VERSION"),
    )
}

/// Formats a time like Go's `time.RFC822` in UTC: `02 Jan 06 15:04 UTC`.
pub fn rfc822(time: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = Civil::from(time);
    let month = MONTHS
        .get(usize::from(t.month).saturating_sub(1))
        .copied()
        .unwrap_or("???");
    format!(
        "{:02} {month} {:02} {:02}:{:02} UTC",
        t.day,
        t.year.rem_euclid(100),
        t.hour,
        t.minute
    )
}

/// Formats a time like Go's `log` prefix, in UTC: `2006/01/02 15:04:05`.
pub fn log_timestamp(time: SystemTime) -> String {
    let t = Civil::from(time);
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// A UTC calendar time, to the second.
struct Civil {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl From<SystemTime> for Civil {
    fn from(time: SystemTime) -> Self {
        let secs = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let small = |v: i64| u8::try_from(v).unwrap_or(0);
        Self {
            year,
            month: small(month),
            day: small(day),
            hour: small(rem / 3600),
            minute: small(rem % 3600 / 60),
            second: small(rem % 60),
        }
    }
}

/// Event formatter producing the original's line layout.
struct OriginalFormat;

impl<S, N> FormatEvent<S, N> for OriginalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "{} ", log_timestamp(SystemTime::now()))?;
        let tag = if meta.target() == NOTICE_TARGET {
            "[*] Notification:"
        } else {
            match *meta.level() {
                Level::ERROR => "[X]",
                Level::WARN => "[E]",
                Level::INFO => "[I]",
                _ => "[-]",
            }
        };
        write!(writer, "{tag} ")?;
        if !meta.target().starts_with("gochat") {
            write!(writer, "{}: ", meta.target())?;
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                write!(writer, ": ")?;
            }
        }
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
