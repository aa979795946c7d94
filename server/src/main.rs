//! The `gochat-server` binary: serve, or administer the database.
//!
//! `gochat-server [serve]` runs the server; `gochat-server shell` (or the
//! original's `-shell`) opens the admin database shell; `gochat-server admin
//! set-owner <user>` and `admin clear-cache <user>` run one operation and exit.
//! Errors are printed as `[X] <message>` and exit with status 1.

/// jemalloc, configured (in `.cargo/config.toml`) to give freed memory back to
/// the system from a background thread: the server shrinks again after many
/// connections leave, which glibc's allocator does not do.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use gochat_server::config::{AdminCommand, Cli, Command, Settings};
use gochat_server::store::Store;
use gochat_server::{logging, shell};

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("[X] {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let settings = cli.settings().map_err(|e| e.to_string())?;
    match cli.action() {
        Command::Serve => serve(settings),
        Command::Shell => async_io::block_on(interactive_shell(&settings)),
        Command::Admin(op) => async_io::block_on(admin(&settings, &op)),
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    // Held until the server stops: dropping it writes out the log lines the
    // background writer still has queued.
    let _log = logging::init(&settings).map_err(|e| e.to_string())?;
    println!("{}", logging::startup_banner(&settings));
    // Best effort: the banner is informative only.
    let _ = std::io::stdout().flush();
    gochat_server::run_blocking(settings).map_err(|e| e.to_string())
}

async fn open_store(settings: &Settings) -> Result<Store, String> {
    Store::open(&settings.database_url)
        .await
        .map_err(|e| e.to_string())
}

async fn interactive_shell(settings: &Settings) -> Result<(), String> {
    let store = open_store(settings).await?;
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let result = shell::run(
        &store,
        &settings.database_url,
        stdin.lock(),
        std::io::stdout().lock(),
        interactive,
    )
    .await
    .map_err(|e| format!("shell input/output failed: {e}"));
    store.close().await;
    result
}

async fn admin(settings: &Settings, op: &AdminCommand) -> Result<(), String> {
    let store = open_store(settings).await?;
    let result = match op {
        AdminCommand::SetOwner { username } => shell::set_owner(&store, username)
            .await
            .map(|()| println!("{}\n{}", shell::OWNER_WARNING, shell::COMPLETED)),
        AdminCommand::ClearCache { username } => shell::clear_cache(&store, username)
            .await
            .map(|_| println!("{}", shell::COMPLETED)),
    };
    store.close().await;
    result.map_err(|e| format!("Problem occurred: {e}"))
}
