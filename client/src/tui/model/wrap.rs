//! Text in the messages view's columns: display widths, control characters
//! made harmless, wrapping at spaces, and how an entry (`[sender] at
//! 3:04PM: text`, continuation rows indented) falls into rows. The renderer
//! styles these rows; the row counts are made from the same rows, so the two
//! always agree.

use jiff::civil::Date;
use ratatui::text::Span;

use super::entry::{Entry, Sender};
use crate::time::TimeZone;

/// The display width of `c` (0 for combining marks, 2 for wide characters).
pub fn char_width(c: char) -> usize {
    let mut b = [0u8; 4];
    Span::raw(&*c.encode_utf8(&mut b)).width()
}

/// The display width of `s`.
pub fn str_width(s: &str) -> usize {
    Span::raw(s).width()
}

/// `text` with control characters made harmless (tabs become spaces).
pub fn sanitize(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '\t' => vec![' ', ' ', ' ', ' '],
            '\n' => vec!['\n'],
            c if c.is_control() => vec!['\u{fffd}'],
            c => vec![c],
        })
        .collect()
}

/// Cuts `line` into pieces: the first at most `first` columns wide, the
/// others at most `rest`, breaking after spaces where possible.
pub fn wrap(line: &str, first: usize, rest: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut width = 0;
    let mut limit = first.max(1);
    for c in line.chars() {
        let w = char_width(c);
        if width + w > limit && !row.is_empty() {
            limit = rest.max(1);
            if c == ' ' {
                rows.push(std::mem::take(&mut row));
                width = 0;
                continue;
            }
            let cut = row.rfind(' ').filter(|&i| i > 0).map(|i| i + 1);
            match cut {
                Some(i) if i < row.len() => {
                    let tail = row.split_off(i);
                    rows.push(std::mem::replace(&mut row, tail));
                    width = str_width(&row);
                }
                _ => {
                    rows.push(std::mem::take(&mut row));
                    width = 0;
                }
            }
        }
        row.push(c);
        width += w;
    }
    rows.push(row);
    rows
}

/// What comes before an entry's text: `[<name>] at <time>: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// The sender's name.
    pub name: String,
    /// When it was written, as Go's `time.Kitchen` (`3:04PM`), after its
    /// date (`2006-01-02 3:04PM`) when that is not today.
    pub time: String,
}

/// When `stamp` was, as a message's prefix shows it: the time of day
/// (`3:04PM`), with the date before it (`2024-02-29 3:04PM`) unless it is
/// `today` in `zone`.
pub fn stamp_text(stamp: i64, zone: &TimeZone, today: Date) -> String {
    if zone.date_of(stamp) == today {
        zone.kitchen(stamp)
    } else {
        format!("{} {}", zone.date(stamp), zone.kitchen(stamp))
    }
}

/// The literal parts of a [`Prefix`], around the name and the time.
pub const PREFIX_PARTS: [&str; 3] = ["[", "] at ", ": "];

impl Prefix {
    /// Its display width.
    pub fn width(&self) -> usize {
        PREFIX_PARTS.iter().map(|p| str_width(p)).sum::<usize>()
            + str_width(&self.name)
            + str_width(&self.time)
    }
}

/// An entry laid out at a width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryText {
    /// The prefix of the first row; `None` for a plain entry (the logo).
    pub prefix: Option<Prefix>,
    /// Columns the rows after the first are indented by.
    pub indent: usize,
    /// The rows of text (the first follows the prefix).
    pub rows: Vec<String>,
}

/// `e` laid out at `width` columns, its time in `zone` (with its date when
/// that is not `today`).
pub fn entry_text(e: &Entry, width: usize, zone: &TimeZone, today: Date) -> EntryText {
    let text = sanitize(&e.text);
    if e.sender == Sender::Plain {
        return EntryText {
            prefix: None,
            indent: 0,
            rows: text
                .split('\n')
                .flat_map(|l| wrap(l, width, width))
                .collect(),
        };
    }
    let prefix = Prefix {
        name: e.sender.name().to_owned(),
        time: stamp_text(e.stamp, zone, today),
    };
    let prefix_width = prefix.width();
    let indent = prefix_width.min(width / 2);
    let mut rows = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let first = if n == 0 {
            width.saturating_sub(prefix_width)
        } else {
            width.saturating_sub(indent)
        };
        rows.extend(wrap(line, first, width.saturating_sub(indent)));
    }
    EntryText {
        prefix: Some(prefix),
        indent,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_then_hard() {
        assert_eq!(wrap("hello world", 8, 8), vec!["hello ", "world"]);
        assert_eq!(wrap("abcdefghij", 4, 3), vec!["abcd", "efg", "hij"]);
        assert_eq!(wrap("", 5, 5), vec![""]);
        assert_eq!(wrap("日本語", 4, 4), vec!["日本", "語"]);
    }

    #[test]
    fn sanitizes_controls() {
        assert_eq!(sanitize("a\x1b[2Jb\tc\nd"), "a\u{fffd}[2Jb    c\nd");
    }

    #[test]
    fn entries_fall_into_indented_rows() {
        let e = Entry::line(
            1,
            15 * 3600 + 4 * 60,
            Sender::User("bob".into()),
            "one two three!\nfour".into(),
        );
        let utc = TimeZone::utc();
        let t = entry_text(&e, 30, &utc, utc.date_of(0));
        let prefix = t.prefix.clone();
        assert_eq!(
            prefix,
            Some(Prefix {
                name: "bob".into(),
                time: "3:04PM".into()
            })
        );
        // `[bob] at 3:04PM: ` is 17 columns; the indent stops at half the width.
        assert_eq!(t.indent, 15);
        assert_eq!(t.rows, ["one two ", "three!", "four"]);
        // Not of today: the date goes before the time.
        let t = entry_text(&e, 40, &utc, utc.date_of(86_400));
        assert_eq!(t.prefix.map(|p| p.time), Some("1970-01-01 3:04PM".into()));
    }
}
