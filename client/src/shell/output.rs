//! The one writer every shell line goes through: the original's prefixes,
//! the prompt, and lines printed above the prompt on a terminal.

use std::io::Write;

/// Cyan, as the original's prompt and message stamps.
pub(crate) const CYAN: &str = "\x1b[36m";
/// Green, as the original's message senders.
pub(crate) const GREEN: &str = "\x1b[32m";
/// Magenta, as the original's `[HOOK]`.
pub(crate) const MAGENTA: &str = "\x1b[0;35m";
/// Red, as the original's `[SHTDWN]`.
pub(crate) const RED: &str = "\x1b[0;31m";
/// Back to the default colour.
pub(crate) const RESET: &str = "\x1b[0m";
/// Go to the start of the line and clear it.
const CLEAR_LINE: &str = "\r\x1b[K";
/// The terminal bell.
const BELL: &str = "\x07";

/// The kinds of output line, each with the original's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `[OK] `: a command's result.
    Ok,
    /// `[ERROR] `.
    Error,
    /// `[INFO] `.
    Info,
    /// `[...] `: an intermediate step (verbose mode).
    Step,
    /// No prefix: lists and plain results.
    Plain,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Ok => "[OK] ",
            Kind::Error => "[ERROR] ",
            Kind::Info => "[INFO] ",
            Kind::Step => "[...] ",
            Kind::Plain => "",
        }
    }
}

/// The shell's output.
pub(crate) struct Out {
    w: Box<dyn Write + Send>,
    /// Colours and line clearing (a terminal).
    color: bool,
    /// The prompt is on screen, waiting for input.
    prompt_shown: Option<String>,
    /// Writing failed (the reader went away).
    broken: bool,
}

impl Out {
    /// Output to `w`; `color` for a terminal.
    pub(crate) fn new(w: Box<dyn Write + Send>, color: bool) -> Out {
        Out {
            w,
            color,
            prompt_shown: None,
            broken: false,
        }
    }

    /// Whether a write failed: the shell should stop.
    pub(crate) fn broken(&self) -> bool {
        self.broken
    }

    /// Prints `text` with the prefix of `kind`; a text of several lines gets
    /// the prefix on its first line only.
    pub(crate) fn say(&mut self, kind: Kind, text: &str) {
        let line = format!("{}{text}\n", kind.prefix());
        self.write(&line);
    }

    /// `[OK] <text>`.
    pub(crate) fn ok(&mut self, text: &str) {
        self.say(Kind::Ok, text);
    }

    /// `[INFO] <text>`.
    pub(crate) fn info(&mut self, text: &str) {
        self.say(Kind::Info, text);
    }

    /// `[ERROR] <text>`.
    pub(crate) fn error(&mut self, text: &str) {
        self.say(Kind::Error, text);
    }

    /// A line without prefix.
    pub(crate) fn plain(&mut self, text: &str) {
        self.say(Kind::Plain, text);
    }

    /// Shows the prompt (cyan with colours) and remembers it is on screen.
    pub(crate) fn prompt(&mut self, prompt: &str) {
        let text = self.paint(CYAN, prompt);
        self.write(&text);
        self.prompt_shown = Some(prompt.to_owned());
    }

    /// Shows the prompt followed by the line read (scripts: a transcript).
    pub(crate) fn echo(&mut self, prompt: &str, line: &str) {
        let text = format!("{prompt}{line}\n");
        self.write(&text);
    }

    /// Shows a question (`password: `) without a line end.
    pub(crate) fn ask(&mut self, question: &str) {
        self.write(question);
    }

    /// Ends a question's line (after an answer that was not echoed).
    pub(crate) fn end_question(&mut self) {
        self.write("\n");
    }

    /// Replaces the prompt on screen (when one is) by `prompt` for the next
    /// re-print: the state it shows changed.
    pub(crate) fn update_prompt(&mut self, prompt: &str) {
        if self.prompt_shown.is_some() {
            self.prompt_shown = Some(prompt.to_owned());
        }
    }

    /// Input was taken: the prompt is no longer waiting.
    pub(crate) fn prompt_taken(&mut self) {
        self.prompt_shown = None;
    }

    /// Prints a notification (already formatted, colours included): above the
    /// prompt when one is on screen (the line is cleared, the prompt shown
    /// again), with the bell when `bell`.
    pub(crate) fn notify(&mut self, text: &str, bell: bool) {
        let Some(prompt) = self.prompt_shown.clone() else {
            self.write(&format!("{text}\n"));
            return;
        };
        let mut out = String::from(CLEAR_LINE);
        if bell {
            out.push_str(BELL);
        }
        out.push_str(text);
        out.push('\n');
        out.push_str(&self.paint(CYAN, &prompt));
        self.write(&out);
    }

    /// `text` in `color` when colours are on.
    pub(crate) fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn write(&mut self, text: &str) {
        if self.broken {
            return;
        }
        if self
            .w
            .write_all(text.as_bytes())
            .and_then(|()| self.w.flush())
            .is_err()
        {
            self.broken = true;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn prefixes_and_notifications() {
        let buf = Buf::default();
        let mut out = Out::new(Box::new(buf.clone()), false);
        out.ok("done");
        out.error("X: bad");
        out.notify("[HOOK] a", true);
        out.prompt("gochat() > ");
        out.notify("msg", true);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "[OK] done\n[ERROR] X: bad\n[HOOK] a\ngochat() > \r\x1b[K\x07msg\ngochat() > "
        );
    }
}
