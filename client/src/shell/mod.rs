//! The line shell (`gochat-client --shell`): the original client's SHELL,
//! every command and output prefix it had, without its crashes.
//!
//! - One command per line, the name matched without case; `HELP` lists them
//!   in a fixed order; `EXIT` or the end of the input leaves.
//! - Output goes through one writer with the original's prefixes: `[OK]`,
//!   `[ERROR] <command as typed>: <reason>`, `[INFO]`, `[...]` (verbose
//!   steps); the prompt is `(not connected) gochat(<user>) > `, cyan on a
//!   terminal.
//! - What the server pushes is printed as it comes, above the prompt on a
//!   terminal: `[<local time>] <sender>: <text>`, `[HOOK] …` with the hook's
//!   arguments, `[SHTDWN] …` with the seconds left, unreadable messages with
//!   the reason, and the disconnection with its reason.
//! - Scripts: when the input is not a terminal, commands run one after the
//!   other, each waiting for its reply; each is echoed after the prompt so the
//!   output reads as a transcript; a command that asks for passwords reads
//!   them from the next lines (before any check, so that a failing command
//!   still takes its lines); at the end of the input whatever is still
//!   arriving is printed until a second passes without any, and the exit
//!   status is 1 if any command failed.
//!
//! Standard input is read on a helper thread, one line at a time on demand,
//! so events are printed while the shell waits for input and a hidden
//! password read never races with a line read.

mod account;
mod args;
mod chat;
mod events;
mod help;
mod input;
mod output;
mod server;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;

use gochat_runtime::Runtime;

use self::args::Line;
use self::help::Cmd;
use self::input::{Input, Item};
use self::output::Out;
use crate::config::{RuntimeKind, Settings};
use crate::service::{Connection, Service};
use crate::store::LocalStore;
use crate::time::TimeZone;
use crate::types::{ClientError, ClientEvent};

/// How long the shell keeps printing at the end of a script once nothing
/// arrives any more.
const LINGER_QUIET: Duration = Duration::from_secs(1);
/// The longest it keeps printing at the end of a script.
const LINGER_MAX: Duration = Duration::from_secs(10);

/// How the shell talks to its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellOptions {
    /// The input is a terminal: passwords are read without echo, commands
    /// are not echoed, and end of input is not a script's end.
    pub interactive: bool,
    /// Colours and line clearing in the output.
    pub color: bool,
    /// The folder holding `import/` and `export/` (the working directory by
    /// default).
    pub workdir: PathBuf,
}

impl ShellOptions {
    /// Options for an interactive (terminal) or scripted shell: colours on a
    /// terminal only, folders in the working directory.
    pub fn new(interactive: bool) -> Self {
        ShellOptions {
            interactive,
            color: interactive,
            workdir: PathBuf::from("."),
        }
    }
}

/// Runs the shell on `rt` until `EXIT` or the end of `input`, writing
/// everything to `output`, as `options` say; returns the exit status (1 if
/// a scripted command failed). Connects first to `settings.auto_connect`
/// when set.
pub async fn run<R: Runtime>(
    rt: R,
    service: Service,
    settings: &Settings,
    input: Box<dyn BufRead + Send>,
    output: Box<dyn std::io::Write + Send>,
    options: ShellOptions,
) -> i32 {
    let mut shell = Shell {
        rt,
        service,
        ca_file: settings.ca_file.clone(),
        bell: settings.bell,
        zone: settings.zone.clone(),
        conn: None,
        events: None,
        input: Input::spawn(input, options.interactive),
        out: Out::new(output, options.color),
        verbose: settings.verbose,
        interactive: options.interactive,
        workdir: options.workdir,
        failures: 0,
    };
    if settings.verbose || shell.interactive {
        shell
            .out
            .plain("gochat shell - type HELP [command] for help");
    }
    if let Some(auto) = &settings.auto_connect
        && let Err(e) = shell.auto_connect(auto).await
    {
        shell.fail("CONN", &e);
    }
    let exited = shell.repl().await;
    if !exited && !shell.interactive {
        shell.linger().await;
    }
    if let Some(conn) = shell.conn.take() {
        conn.disconnect().await;
    }
    if shell.failures > 0 && !shell.interactive {
        1
    } else {
        0
    }
}

/// Runs the shell of the `gochat-client --shell` process on standard input
/// and output: builds the runtime (`settings.runtime`), opens the local
/// store at `settings.database` and calls [`run`]. Returns the exit
/// status.
pub fn main_entry(settings: Settings) -> i32 {
    let interactive = std::io::stdin().is_terminal();
    let options = ShellOptions {
        interactive,
        color: interactive && std::io::stdout().is_terminal(),
        workdir: PathBuf::from("."),
    };
    match settings.runtime {
        RuntimeKind::Smol => match gochat_runtime_smol::SmolRuntime::new() {
            Ok(rt) => start(rt, settings, options),
            Err(e) => runtime_error(&e),
        },
        RuntimeKind::Tokio => match gochat_runtime_tokio::TokioRuntime::new() {
            Ok(rt) => start(rt, settings, options),
            Err(e) => runtime_error(&e),
        },
    }
}

fn runtime_error(e: &std::io::Error) -> i32 {
    eprintln!("[ERROR] cannot start the runtime: {e}");
    1
}

fn start<R: Runtime>(rt: R, settings: Settings, options: ShellOptions) -> i32 {
    let inner = rt.clone();
    rt.block_on(async move {
        let store = match LocalStore::open(&settings.database).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("[ERROR] {e}");
                return 1;
            }
        };
        let input = Box::new(std::io::BufReader::new(std::io::stdin()));
        let output = Box::new(std::io::stdout());
        let service = Service::new(store.clone());
        let code = run(inner, service, &settings, input, output, options).await;
        store.close().await;
        code
    })
}

/// What to do after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Exit,
}

/// The shell's state.
struct Shell<R: Runtime> {
    rt: R,
    service: Service,
    ca_file: Option<PathBuf>,
    bell: bool,
    /// The zone times are printed in.
    zone: TimeZone,
    conn: Option<Connection>,
    events: Option<async_channel::Receiver<ClientEvent>>,
    input: Input,
    out: Out,
    verbose: bool,
    interactive: bool,
    workdir: PathBuf,
    failures: u32,
}

impl<R: Runtime> Shell<R> {
    /// Reads and runs commands; `true` if left by EXIT.
    async fn repl(&mut self) -> bool {
        loop {
            self.drain_events();
            if self.out.broken() {
                return true;
            }
            let prompt = self.prompt_text();
            if self.interactive {
                self.out.prompt(&prompt);
            }
            let item = self.wait_line().await;
            self.out.prompt_taken();
            match item {
                Item::Eof => {
                    if self.interactive {
                        self.out.plain("");
                    }
                    return false;
                }
                Item::Error(e) => {
                    self.fail("input", &e);
                    return false;
                }
                Item::Line(line) => {
                    let text = line.trim();
                    if text.is_empty() {
                        continue;
                    }
                    if !self.interactive {
                        // The state may have changed while waiting.
                        let prompt = self.prompt_text();
                        self.out.echo(&prompt, text);
                    }
                    if self.execute(text).await == Flow::Exit {
                        return true;
                    }
                }
            }
        }
    }

    /// `(not connected) gochat(<user>) > `.
    fn prompt_text(&self) -> String {
        let conn = self.conn.as_ref().filter(|c| c.is_connected());
        let user = conn.and_then(Connection::user).unwrap_or_default();
        let prefix = if conn.is_some() {
            ""
        } else {
            "(not connected) "
        };
        format!("{prefix}gochat({user}) > ")
    }

    /// Runs one command line.
    async fn execute(&mut self, text: &str) -> Flow {
        let line = Line::new(text);
        let op = line.op();
        let Some(cmd) = Cmd::parse(op) else {
            self.fail(op, &"command not found");
            return Flow::Continue;
        };
        let result = match cmd {
            Cmd::Exit => return Flow::Exit,
            Cmd::Help => self.cmd_help(&line),
            Cmd::Conn => self.cmd_conn(&line).await,
            Cmd::Discn => self.cmd_discn(&line).await,
            Cmd::RegServer => self.cmd_regserver(&line).await,
            Cmd::DelServer => self.cmd_delserver(&line).await,
            Cmd::Servers => self.cmd_servers().await,
            Cmd::ServerConfig => self.cmd_serverconfig(&line).await,
            Cmd::SetServer => self.cmd_setserver(&line).await,
            Cmd::Reg => self.cmd_reg(&line).await,
            Cmd::Dereg => self.cmd_dereg().await,
            Cmd::Login => self.cmd_login(&line).await,
            Cmd::Logout => self.cmd_logout().await,
            Cmd::Import => self.cmd_import(&line).await,
            Cmd::Export => self.cmd_export(&line).await,
            Cmd::Recover => self.cmd_recover(&line).await,
            Cmd::Usrs => self.cmd_usrs(&line).await,
            Cmd::Msg => self.cmd_msg(&line).await,
            Cmd::Reciv => self.cmd_reciv().await,
            Cmd::Req => self.cmd_req(&line).await,
            Cmd::History => self.cmd_history(&line).await,
            Cmd::Perms => self.cmd_perms(&line).await,
            Cmd::Sub => self.cmd_sub(&line, true).await,
            Cmd::Unsub => self.cmd_sub(&line, false).await,
            Cmd::Admin => self.cmd_admin(&line).await,
            Cmd::Ver => self.cmd_ver(),
            Cmd::Verbose => self.cmd_verbose(),
        };
        if let Err(e) = result {
            self.fail(op, &e);
        }
        Flow::Continue
    }

    /// `[ERROR] <op>: <error>`, counted as a failure.
    fn fail(&mut self, op: &str, error: &dyn std::fmt::Display) {
        self.out.error(&format!("{op}: {error}"));
        self.failures += 1;
    }

    /// `[...] <text>` in verbose mode.
    fn step(&mut self, text: &str) {
        if self.verbose {
            self.out.say(output::Kind::Step, text);
        }
    }

    /// HELP [command].
    fn cmd_help(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        match line.args().first() {
            None => {
                let text = help::full_help();
                self.out.plain(text.trim_end());
                Ok(())
            }
            Some(name) => match Cmd::parse(name) {
                Some(cmd) => {
                    self.out.plain(cmd.help());
                    Ok(())
                }
                None => {
                    self.fail(name, &"command not found");
                    Ok(())
                }
            },
        }
    }

    /// The open connection, or [`ClientError::NotConnected`].
    fn connection(&self) -> Result<Connection, ClientError> {
        match &self.conn {
            Some(c) if c.is_connected() => Ok(c.clone()),
            _ => Err(ClientError::NotConnected),
        }
    }
}
