//! Desktop notifications through the terminal: the escape sequences
//! (`OSC 777` and `OSC 9`) that terminals turn into a notification of the
//! desktop, with the text made safe to put in one (no control characters,
//! so a message cannot end the sequence and write to the terminal).

use super::model::Notify;

/// The longest text a notification carries, in characters.
pub const MAX_NOTE_CHARS: usize = 120;

/// `text` without control characters (line breaks become spaces), without
/// `;` when `field` (it separates OSC 777's fields), and cut at
/// [`MAX_NOTE_CHARS`] with `…`.
fn clean(text: &str, field: bool) -> String {
    let mut out: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            ';' if field => ',',
            c => c,
        })
        .filter(|c| !c.is_control())
        .take(MAX_NOTE_CHARS + 1)
        .collect();
    if out.chars().count() > MAX_NOTE_CHARS {
        out = out.chars().take(MAX_NOTE_CHARS - 1).collect();
        out.push('…');
    }
    out
}

/// The escape sequence that asks the terminal for a desktop notification
/// with `title` and `body`, as `kind` says; `None` when notifications are
/// off.
pub fn escape(kind: Notify, title: &str, body: &str) -> Option<String> {
    match kind {
        Notify::Off => None,
        Notify::Osc777 => Some(format!(
            "\x1b]777;notify;{};{}\x1b\\",
            clean(title, true),
            clean(body, false)
        )),
        Notify::Osc9 => Some(format!(
            "\x1b]9;{}: {}\x1b\\",
            clean(title, false),
            clean(body, false)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_for_each_kind() {
        assert_eq!(escape(Notify::Off, "t", "b"), None);
        assert_eq!(
            escape(Notify::Osc777, "gochat: bob", "hi; there").as_deref(),
            Some("\x1b]777;notify;gochat: bob;hi; there\x1b\\")
        );
        assert_eq!(
            escape(Notify::Osc9, "gochat: bob", "hi").as_deref(),
            Some("\x1b]9;gochat: bob: hi\x1b\\")
        );
    }

    #[test]
    fn a_message_cannot_escape_the_sequence() {
        let evil = "a\x07b\x1b]0;title\x1b\\c\u{9c}d\nline;x";
        let seq = escape(Notify::Osc777, "t;x", evil).unwrap_or_default();
        let inner = &seq[2..seq.len() - 2];
        assert!(!inner.contains(['\x07', '\x1b', '\u{9c}']), "{seq:?}");
        assert!(inner.starts_with("777;notify;t,x;"), "{seq:?}");
        assert!(inner.ends_with("ab]0;title\\cd line;x"), "{seq:?}");
        let long = "x".repeat(500);
        let seq = escape(Notify::Osc9, "t", &long).unwrap_or_default();
        assert_eq!(
            seq.chars().filter(|c| *c == 'x').count(),
            MAX_NOTE_CHARS - 1
        );
        assert!(seq.contains('…'));
    }
}
