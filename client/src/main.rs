//! `gochat-client`: the TUI, or the line shell with `--shell`.
//!
//! Reads the flags and `config.json`, creates the `export/`, `import/` and
//! `logs/` folders in the working directory as the original did, logs to the
//! configured file (never to the screen, which the front ends own), then
//! runs the chosen front end. Errors print `[ERROR] <text>` on standard
//! error and exit with status 1.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;

use gochat_client::config::{self, Cli, Settings};
use tracing_subscriber::EnvFilter;

/// The folders the original client created in the working directory.
const FOLDERS: [&str; 3] = ["export", "import", "logs"];

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    let settings = match config::load(&cli) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    for dir in FOLDERS {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return fail(&format!("cannot create the folder {dir}: {e}"));
        }
    }
    if let Err(e) = init_logging(&settings) {
        return fail(&e);
    }
    tracing::info!(
        shell = settings.shell,
        config = %settings.config_path.display(),
        database = %settings.database.display(),
        "gochat-client starting"
    );
    if settings.shell {
        let status = gochat_client::shell::main_entry(settings);
        ExitCode::from(u8::try_from(status).unwrap_or(1))
    } else {
        match gochat_client::tui::run(settings) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        }
    }
}

/// Prints `[ERROR] <error>` on standard error; the failing exit status.
fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("[ERROR] {error}");
    ExitCode::FAILURE
}

/// Sends tracing output to `settings.log_file` (appended, owner-only on
/// Unix), at the configured level (1 silent, 2 error, 3 warn, 4 info), or as
/// `GOCHAT_LOG` says (an `EnvFilter` directive) when set.
fn init_logging(settings: &Settings) -> Result<(), String> {
    let level = match settings.log_level {
        0 | 1 => "off",
        2 => "error",
        3 => "warn",
        _ => "info",
    };
    let filter = match std::env::var("GOCHAT_LOG") {
        Ok(directive) if !directive.is_empty() => {
            EnvFilter::try_new(&directive).map_err(|e| format!("GOCHAT_LOG: {e}"))?
        }
        _ => EnvFilter::new(level),
    };
    let file = open_log(&settings.log_file).map_err(|e| {
        format!(
            "cannot open the log file {}: {e}",
            settings.log_file.display()
        )
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .map_err(|e| format!("cannot set up logging: {e}"))
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}
