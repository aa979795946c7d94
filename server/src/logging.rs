//! Logging set-up in the original server's style, on `tracing`.
//!
//! Each line reads `YYYY/MM/DD HH:MM:SS <tag> <message>` (UTC, formatted with
//! `jiff`), with the original's tags. Log with these `tracing` levels so that each
//! original log level shows what it used to:
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
//!
//! Lines go to stdout, or are appended to the log file, through
//! `tracing-appender`'s non-blocking writer: a background thread does the
//! writing, so a slow disk does not hold up the server (past 128,000 queued lines,
//! new ones are dropped), and [`LogGuard`] writes out what is queued when dropped.
//! With [`LogRotation::Daily`] the file starts afresh each day (UTC), the date
//! inserted before its extension.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{LogLevel, LogRotation, Settings};

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

/// Keeps the background log writer running; when dropped, it writes out every
/// line still queued. Hold it until the server stops.
#[derive(Debug)]
#[must_use = "queued log lines are written out when the guard is dropped"]
pub struct LogGuard {
    _writer: WorkerGuard,
}

/// The `EnvFilter` directives for a level: our crates (`gochat*`) at the mapped
/// level, other crates at most at `info`, and notices always. The NATS
/// client (`async_nats`) at most at `warn`: it reports each failed reconnect
/// attempt of an outage at `info`, while the cluster link logs the loss and
/// the return of NATS once each.
pub fn filter_directives(level: LogLevel) -> String {
    let (ours, others, nats) = match level {
        LogLevel::All => ("trace", "info", "warn"),
        LogLevel::Info => ("info", "info", "warn"),
        LogLevel::Error => ("warn", "warn", "warn"),
        LogLevel::Fatal => ("error", "error", "error"),
    };
    format!("{others},async_nats={nats},gochat={ours},{NOTICE_TARGET}=trace")
}

/// Installs the global `tracing` subscriber for `settings.log_level`, writing to
/// stdout or appending to `settings.log_file` (whose folders are created), rotated
/// as `settings.log_rotation` says.
pub fn init(settings: &Settings) -> Result<LogGuard, LoggingError> {
    let directives = match std::env::var("RUST_LOG") {
        Ok(custom) if !custom.trim().is_empty() => format!("{custom},{NOTICE_TARGET}=trace"),
        _ => filter_directives(settings.log_level),
    };
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| LoggingError::Filter(e.to_string()))?;

    let (writer, guard) = match &settings.log_file {
        None => tracing_appender::non_blocking(std::io::stdout()),
        Some(path) => tracing_appender::non_blocking(log_file(path, settings.log_rotation)?),
    };

    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .event_format(OriginalFormat)
        .try_init()
        .map_err(|e| LoggingError::AlreadyInitialised(e.to_string()))?;
    Ok(LogGuard { _writer: guard })
}

/// The log file at `path`, opened for appending, its folders created. Rotated
/// daily, `logs/server.log` is written as `logs/server.2025-06-30.log`.
fn log_file(path: &Path, rotation: LogRotation) -> Result<RollingFileAppender, LoggingError> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(folder) = folder {
        std::fs::create_dir_all(folder).map_err(|source| LoggingError::CreateDir {
            path: folder.to_path_buf(),
            source,
        })?;
    }
    let Some(file_name) = path.file_name().map(Path::new) else {
        return Err(LoggingError::Open {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        });
    };
    let text = |part: &std::ffi::OsStr| part.to_string_lossy().into_owned();
    let builder = RollingFileAppender::builder();
    let builder = match rotation {
        LogRotation::Never => builder
            .rotation(Rotation::NEVER)
            .filename_prefix(text(file_name.as_os_str())),
        LogRotation::Daily => {
            let stem = file_name.file_stem().unwrap_or(file_name.as_os_str());
            let builder = builder
                .rotation(Rotation::DAILY)
                .filename_prefix(text(stem));
            match file_name.extension() {
                Some(extension) => builder.filename_suffix(text(extension)),
                None => builder,
            }
        }
    };
    builder
        .build(folder.unwrap_or(Path::new(".")))
        .map_err(|e| LoggingError::Open {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })
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
    timestamp(time).strftime("%d %b %y %H:%M UTC").to_string()
}

/// Formats a time like Go's `log` prefix, in UTC: `2006/01/02 15:04:05`.
pub fn log_timestamp(time: SystemTime) -> String {
    timestamp(time).strftime(LOG_STAMP).to_string()
}

/// The `strftime` layout of the stamp that starts each log line.
const LOG_STAMP: &str = "%Y/%m/%d %H:%M:%S";

/// `time` as a jiff timestamp, clamped to the years jiff knows (-9999 to 9999).
fn timestamp(time: SystemTime) -> Timestamp {
    Timestamp::try_from(time).unwrap_or(if time < UNIX_EPOCH {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
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
        write!(writer, "{} ", Timestamp::now().strftime(LOG_STAMP))?;
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
