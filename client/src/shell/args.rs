//! Reading a command line: its words, the raw text after some of them, and
//! flags (`-keep`, `-tls`, …) that may stand anywhere.

use crate::types::ClientError;

/// One command line split on runs of whitespace, keeping where each word
/// starts so that free text (a message) can be taken as typed.
#[derive(Debug)]
pub(crate) struct Line<'a> {
    text: &'a str,
    /// (start offset, word) of every word, the command name first.
    words: Vec<(usize, &'a str)>,
}

impl<'a> Line<'a> {
    /// Splits `text` (already trimmed or not) into words.
    pub(crate) fn new(text: &'a str) -> Self {
        let mut words = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            match (c.is_whitespace(), start) {
                (true, Some(s)) => {
                    words.push((s, &text[s..i]));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(s) = start {
            words.push((s, &text[s..]));
        }
        Line { text, words }
    }

    /// The command name as typed (empty for a blank line).
    pub(crate) fn op(&self) -> &'a str {
        self.words.first().map_or("", |w| w.1)
    }

    /// The arguments: every word after the command name.
    pub(crate) fn args(&self) -> Vec<&'a str> {
        self.words.iter().skip(1).map(|w| w.1).collect()
    }

    /// The text after the first `n` arguments, as typed (inner spacing
    /// kept), without surrounding whitespace; empty when there is none.
    pub(crate) fn rest_after(&self, n: usize) -> &'a str {
        match self.words.get(n + 1) {
            Some((start, _)) => self.text[*start..].trim_end(),
            None => "",
        }
    }
}

/// Arguments with their flags taken out: flags are the words that start with
/// `-` and are in `known` (compared without case); any other word starting
/// with `-` is refused.
#[derive(Debug, Default)]
pub(crate) struct Flagged<'a> {
    /// The words that are not flags, in order.
    pub positional: Vec<&'a str>,
    /// The flags given, lowercased, each once.
    pub flags: Vec<String>,
}

impl Flagged<'_> {
    /// Whether `flag` (lowercase, with its dash) was given.
    pub(crate) fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Separates `args` into positional words and the `known` flags.
pub(crate) fn flags<'a>(args: &[&'a str], known: &[&str]) -> Result<Flagged<'a>, ClientError> {
    let mut out = Flagged::default();
    for arg in args {
        if arg.starts_with('-') && arg.len() > 1 && arg.parse::<i64>().is_err() {
            let lower = arg.to_ascii_lowercase();
            if !known.contains(&lower.as_str()) {
                return Err(ClientError::Invalid(format!(
                    "unknown flag {arg} (known: {})",
                    known.join(" ")
                )));
            }
            if !out.flags.contains(&lower) {
                out.flags.push(lower);
            }
        } else {
            out.positional.push(arg);
        }
    }
    Ok(out)
}

/// The "not enough arguments" error, with the command's usage.
pub(crate) fn not_enough(usage: &str) -> ClientError {
    ClientError::Invalid(format!("not enough arguments (usage: {usage})"))
}

/// The "too many arguments" error, with the command's usage.
pub(crate) fn too_many(usage: &str) -> ClientError {
    ClientError::Invalid(format!("too many arguments (usage: {usage})"))
}

/// A TCP port typed by the user.
pub(crate) fn port(text: &str) -> Result<u16, ClientError> {
    match text.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(ClientError::Invalid(format!(
            "invalid port {text}: a number from 1 to 65535 is expected"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn words_and_rest_keep_the_text() {
        let line = Line::new("  msg  bob  hello   there  ");
        assert_eq!(line.op(), "msg");
        assert_eq!(line.args(), vec!["bob", "hello", "there"]);
        assert_eq!(line.rest_after(1), "hello   there");
        assert_eq!(line.rest_after(3), "");
        assert_eq!(Line::new("").op(), "");
    }

    #[test]
    fn flags_anywhere() {
        let f = flags(
            &["-NOVERIFY", "host", "-keep", "9037"],
            &["-keep", "-noverify"],
        )
        .unwrap();
        assert_eq!(f.positional, vec!["host", "9037"]);
        assert!(f.has("-keep") && f.has("-noverify"));
        assert!(flags(&["-x"], &["-keep"]).is_err());
        assert_eq!(flags(&["-5"], &[]).unwrap().positional, vec!["-5"]);
    }
}
