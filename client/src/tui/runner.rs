//! The runner: terminal set-up and restore (also from a panic), logging to
//! a file, the input thread, and the one loop that blocks until the next
//! key, network event, task result or due tick, updates, and draws.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    KeyboardEnhancementFlags, MouseEventKind, PopKeyboardEnhancementFlags,
    PushKeyboardEnhancementFlags,
};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use gochat_runtime::Runtime;
use gochat_runtime::tls::ServerVerification;
use gochat_runtime_smol::SmolRuntime;
use gochat_runtime_tokio::TokioRuntime;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::executor::Executor;
use super::model::{LOCAL, Model, Notify, SYSTEM_BUFFER, UiConfig};
use super::msg::{Effect, Msg};
use super::notify::{Delivery, DesktopNotifier};
use super::{notify, render, update};
use crate::config::{RuntimeKind, Settings};
use crate::service::Service;
use crate::store::LocalStore;
use crate::types::ClientError;

/// Whether the keyboard enhancement flags were pushed (to pop them on exit).
static ENHANCED: AtomicBool = AtomicBool::new(false);

/// Runs the TUI until Ctrl-Q: opens the store, restores the servers, takes
/// over the terminal and gives it back on the way out (a panic included).
pub fn run(settings: Settings) -> Result<(), ClientError> {
    init_logging(&settings);
    match settings.runtime {
        RuntimeKind::Smol => run_on(SmolRuntime::new()?, &settings),
        RuntimeKind::Tokio => run_on(TokioRuntime::new()?, &settings),
    }
}

/// Sends the log to the settings' log file (never to the screen). Does
/// nothing if a global logger is set already.
fn init_logging(settings: &Settings) {
    let level = match (settings.verbose, settings.log_level) {
        (true, _) => "debug",
        (false, 0 | 1) => "off",
        (false, 2) => "error",
        (false, 3) => "warn",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GOCHAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&settings.log_file);
    if let Ok(file) = file {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .with_env_filter(filter)
            .try_init();
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Puts the terminal back: raw mode off, main screen, cursor shown.
fn restore_terminal() {
    let mut out = std::io::stdout();
    if ENHANCED.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = crossterm::terminal::disable_raw_mode();
}

/// Restores the terminal when dropped.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Sets up the terminal (alternate screen, raw mode, bracketed paste, and
/// the mouse when `mouse`).
fn setup_terminal(
    mouse: bool,
) -> Result<(Guard, Terminal<CrosstermBackend<std::io::Stdout>>), ClientError> {
    crossterm::terminal::enable_raw_mode()?;
    let guard = Guard;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
    let mut out = std::io::stdout();
    execute!(out, EnterAlternateScreen, EnableBracketedPaste)?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    if crossterm::terminal::supports_keyboard_enhancement().unwrap_or(false) {
        execute!(
            out,
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )?;
        ENHANCED.store(true, Ordering::SeqCst);
    }
    let terminal = Terminal::new(CrosstermBackend::new(out))?;
    Ok((guard, terminal))
}

/// Reads terminal events on a thread of its own and sends them on.
fn spawn_input(tx: Sender<Msg>) -> Result<(), ClientError> {
    std::thread::Builder::new()
        .name("gochat-tui-input".to_owned())
        .spawn(move || {
            loop {
                let msg = match crossterm::event::read() {
                    Ok(Event::Key(key)) => Msg::Key(key),
                    Ok(Event::Paste(text)) => Msg::Paste(text),
                    Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
                    // Moves are many and change nothing: not sent on.
                    Ok(Event::Mouse(m)) if m.kind != MouseEventKind::Moved => Msg::Mouse(m),
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::error!("reading the terminal failed: {e}");
                        let _ = tx.send(Msg::Quit);
                        break;
                    }
                };
                if tx.send(msg).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

fn run_on<R: Runtime>(rt: R, settings: &Settings) -> Result<(), ClientError> {
    let store = rt.block_on(LocalStore::open(&settings.database))?;
    let records = rt.block_on(store.servers())?;
    let start = rt.block_on(store.start_options())?;
    let service = Service::new(store);
    let verification = settings
        .ca_file
        .clone()
        .map_or(ServerVerification::SystemRoots, ServerVerification::CaFile);
    let (tx, rx) = mpsc::channel();
    let executor = Executor::new(rt, service, tx.clone(), verification);

    let config = UiConfig::from_settings(settings);
    let (guard, mut terminal) = setup_terminal(config.mouse)?;
    let size = terminal.size()?;
    let mut model = Model::new(
        config,
        records,
        settings.zone.clone(),
        (size.width, size.height),
        Instant::now(),
        unix_now(),
    );
    // The first message: the servers' start options (connect, log in).
    let _ = tx.send(Msg::Started(start));
    spawn_input(tx)?;
    tracing::info!("TUI started with {} servers", model.servers.len() - 1);
    let result = event_loop(&mut model, &mut terminal, &rx, &executor);
    drop(terminal);
    drop(guard);
    result
}

fn event_loop<R: Runtime>(
    model: &mut Model,
    terminal: &mut Terminal<CrosstermBackend<std::io::Stdout>>,
    rx: &Receiver<Msg>,
    executor: &Executor<R>,
) -> Result<(), ClientError> {
    let mut desktop = DesktopNotifier::from_env();
    terminal.draw(|f| render::render(model, f))?;
    loop {
        let first = match model.next_tick() {
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => Msg::Tick,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            },
            None => match rx.recv() {
                Ok(msg) => msg,
                Err(_) => return Ok(()),
            },
        };
        let mut next = Some(first);
        let mut batch = 0;
        while let Some(msg) = next {
            batch += 1;
            model.now = Instant::now();
            model.wall = unix_now();
            for effect in update::update(model, msg) {
                match effect {
                    Effect::Quit => return Ok(()),
                    Effect::Bell => {
                        let mut out = std::io::stdout();
                        let _ = out.write_all(b"\x07").and_then(|()| out.flush());
                    }
                    Effect::Notify { kind, title, body } => {
                        let kind = match kind {
                            Notify::Desktop => desktop_notify(model, &mut desktop, &title, &body),
                            kind => Some(kind),
                        };
                        if let Some(seq) = kind.and_then(|k| notify::escape(k, &title, &body)) {
                            let out = terminal.backend_mut();
                            let _ = out.write_all(seq.as_bytes()).and_then(|()| out.flush());
                        }
                    }
                    Effect::MouseCapture(on) => {
                        let out = terminal.backend_mut();
                        let _ = if on {
                            execute!(out, EnableMouseCapture)
                        } else {
                            execute!(out, DisableMouseCapture)
                        };
                    }
                    Effect::Redraw => terminal.clear()?,
                    Effect::Task { ctx, task } => executor.spawn(ctx, task),
                }
            }
            // Draw at least every 512 messages, even in a flood.
            next = if batch < 512 {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        terminal.draw(|f| render::render(model, f))?;
    }
}

/// Hands a notification to the desktop's service; when `notify-send`
/// cannot be run, says so once in the System buffer and gives the escape to
/// write instead (OSC 777).
fn desktop_notify(
    model: &mut Model,
    desktop: &mut DesktopNotifier,
    title: &str,
    body: &str,
) -> Option<Notify> {
    match desktop.notify(title, body) {
        Delivery::Started | Delivery::Busy => None,
        Delivery::Unavailable { first, why } => {
            if first {
                tracing::warn!("desktop notifications: {why}");
                model.note(
                    LOCAL,
                    SYSTEM_BUFFER,
                    format!(
                        "Desktop notifications: {why}; they go through the terminal \
                         (OSC 777) instead. /set TUI.Notify osc777, osc9 or off chooses."
                    ),
                );
            }
            Some(Notify::Osc777)
        }
    }
}
