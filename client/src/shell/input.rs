//! Standard input on a helper thread, read on demand, and the questions
//! commands ask (passwords, a username).
//!
//! The thread reads one line (or one password) only when the shell asks for
//! it, so that a password read from the terminal never races with a pending
//! line read. While a request is pending the shell keeps printing events.

use std::io::BufRead;

use gochat_runtime::Runtime;

use super::Shell;
use crate::types::ClientError;

/// What the shell asks the input thread for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    /// A command line (or an answer that may be echoed, like a username).
    Line,
    /// A password: without echo on a terminal, else the next line.
    Secret,
}

/// What the input thread answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// One line, without its line ending.
    Line(String),
    /// The input ended.
    Eof,
    /// Reading failed.
    Error(String),
}

/// The shell's side of the input thread.
pub(crate) struct Input {
    requests: async_channel::Sender<Request>,
    items: async_channel::Receiver<Item>,
    /// Whether a line request is out and its answer not yet taken.
    pending: bool,
    /// Whether the input has ended (no thread to ask any more).
    ended: bool,
}

impl Input {
    /// Starts the thread reading `reader`; with `terminal`, passwords are
    /// read from the terminal without echo.
    pub(crate) fn spawn(reader: Box<dyn BufRead + Send>, terminal: bool) -> Input {
        let (requests, request_rx) = async_channel::unbounded::<Request>();
        let (item_tx, items) = async_channel::unbounded::<Item>();
        let started = std::thread::Builder::new()
            .name("gochat-shell-input".to_owned())
            .spawn(move || reader_thread(reader, terminal, &request_rx, &item_tx));
        let ended = match started {
            Ok(_) => false,
            Err(e) => {
                tracing::error!("cannot start the input thread: {e}");
                true
            }
        };
        Input {
            requests,
            items,
            pending: false,
            ended,
        }
    }

    /// The next command line. Cancel-safe: if the future is dropped before
    /// the line came, the next call takes that line.
    pub(crate) async fn line(&mut self) -> Item {
        self.next(Request::Line).await
    }

    /// The next password (hidden on a terminal).
    pub(crate) async fn secret(&mut self) -> Item {
        self.next(Request::Secret).await
    }

    async fn next(&mut self, kind: Request) -> Item {
        if self.ended {
            return Item::Eof;
        }
        if !self.pending {
            if self.requests.send(kind).await.is_err() {
                self.ended = true;
                return Item::Eof;
            }
            self.pending = true;
        }
        let item = self.items.recv().await.unwrap_or(Item::Eof);
        self.pending = false;
        if item == Item::Eof {
            self.ended = true;
        }
        item
    }
}

/// Answers each request with one line, until the input ends or the shell is
/// gone.
fn reader_thread(
    mut reader: Box<dyn BufRead + Send>,
    terminal: bool,
    requests: &async_channel::Receiver<Request>,
    items: &async_channel::Sender<Item>,
) {
    while let Ok(kind) = requests.recv_blocking() {
        let item = if kind == Request::Secret && terminal {
            // Ctrl-D at a password prompt cancels the command, not the shell.
            match rpassword::read_password() {
                Ok(p) => Item::Line(p),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    Item::Error("no password given".to_owned())
                }
                Err(e) => Item::Error(format!("cannot read the password: {e}")),
            }
        } else {
            read_line(&mut *reader)
        };
        let last = item == Item::Eof;
        if items.send_blocking(item).is_err() || last {
            return;
        }
    }
}

/// One line of `reader`, lossily decoded, without `\n` or `\r\n`.
fn read_line(reader: &mut dyn BufRead) -> Item {
    let mut buf = Vec::new();
    match reader.read_until(b'\n', &mut buf) {
        Ok(0) => Item::Eof,
        Ok(_) => {
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            Item::Line(String::from_utf8_lossy(&buf).into_owned())
        }
        Err(e) => Item::Error(format!("cannot read the input: {e}")),
    }
}

/// A password asked before the command's checks in scripts, or later on a
/// terminal (see [`Shell::pre_secret`]).
pub(super) struct Pending(Option<Result<String, ClientError>>);

impl<R: Runtime> Shell<R> {
    /// Asks `question` and reads a password: hidden on a terminal, the next
    /// line in a script.
    pub(super) async fn read_secret(&mut self, question: &str) -> Result<String, ClientError> {
        self.out.ask(question);
        let item = self.input.secret().await;
        if !self.interactive {
            self.out.end_question();
        }
        match item {
            Item::Line(p) => Ok(p),
            Item::Eof => Err(ClientError::Invalid(
                "no password given: the input ended".to_owned(),
            )),
            Item::Error(e) => Err(ClientError::Invalid(e)),
        }
    }

    /// Asks `question` and reads an answer shown as typed (a username).
    pub(super) async fn read_answer(&mut self, question: &str) -> Result<String, ClientError> {
        self.out.ask(question);
        match self.input.line().await {
            Item::Line(a) => {
                if !self.interactive {
                    self.out.plain(&a);
                }
                Ok(a.trim().to_owned())
            }
            Item::Eof => {
                self.out.end_question();
                Err(ClientError::Invalid(
                    "no answer given: the input ended".to_owned(),
                ))
            }
            Item::Error(e) => Err(ClientError::Invalid(e)),
        }
    }

    /// In a script, reads the password now, before the command's checks, so
    /// that a command failing a check still takes its password line (which
    /// would otherwise run as a command and be printed); on a terminal it is
    /// asked later, by [`Shell::take_secret`].
    pub(super) async fn pre_secret(&mut self, question: &str) -> Pending {
        if self.interactive {
            Pending(None)
        } else {
            Pending(Some(self.read_secret(question).await))
        }
    }

    /// The password read by [`Shell::pre_secret`], or asked now.
    pub(super) async fn take_secret(
        &mut self,
        pending: Pending,
        question: &str,
    ) -> Result<String, ClientError> {
        match pending.0 {
            Some(read) => read,
            None => self.read_secret(question).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_then_eof() {
        let reader: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new("a\r\nb\nc"));
        let mut input = Input::spawn(reader, false);
        futures_lite::future::block_on(async {
            assert_eq!(input.line().await, Item::Line("a".into()));
            assert_eq!(input.secret().await, Item::Line("b".into()));
            assert_eq!(input.line().await, Item::Line("c".into()));
            assert_eq!(input.line().await, Item::Eof);
            assert_eq!(input.line().await, Item::Eof);
        });
    }
}
