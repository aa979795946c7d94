//! The messages view: entries as `[sender] at 3:04PM: text`, continuation
//! lines indented under the text, date separators, the `--- UNREAD ---`
//! marker, wrapping, and scrolling from the bottom. Rows are built from the
//! newest entry back, only as many as the view shows.

use jiff::civil::Date;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::tui::clock::TimeZone;
use crate::tui::model::{Buffer, Entry, Model, Sender};

/// The unread marker's colour (orange).
const ORANGE: Color = Color::Indexed(208);

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

fn sender_span(sender: &Sender) -> Span<'static> {
    let (name, color) = match sender {
        Sender::You => ("You".to_owned(), Color::Yellow),
        Sender::System => ("System".to_owned(), Color::Magenta),
        Sender::User(n) => (n.clone(), Color::Blue),
        Sender::Plain => (String::new(), Color::Reset),
    };
    Span::styled(name, Style::new().fg(color).add_modifier(Modifier::BOLD))
}

/// The rows of one entry at `width` columns.
pub fn entry_rows(e: &Entry, width: usize, tz: &TimeZone) -> Vec<Line<'static>> {
    let text = sanitize(&e.text);
    let text_style = if e.pending {
        Style::new().fg(Color::DarkGray)
    } else {
        Style::new()
    };
    if e.sender == Sender::Plain {
        return text
            .split('\n')
            .flat_map(|l| wrap(l, width, width))
            .map(|r| Line::styled(r, Style::new().fg(Color::Cyan)))
            .collect();
    }
    let time = tz.kitchen(e.stamp);
    let prefix = vec![
        Span::raw("["),
        sender_span(&e.sender),
        Span::raw("] at "),
        Span::styled(
            time,
            Style::new()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::UNDERLINED),
        ),
        Span::raw(": "),
    ];
    let prefix_width: usize = prefix.iter().map(Span::width).sum();
    let indent = prefix_width.min(width / 2);
    let mut rows = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let first = if n == 0 {
            width.saturating_sub(prefix_width)
        } else {
            width.saturating_sub(indent)
        };
        for (k, piece) in wrap(line, first, width.saturating_sub(indent))
            .into_iter()
            .enumerate()
        {
            let mut spans = if n == 0 && k == 0 {
                prefix.clone()
            } else {
                vec![Span::raw(" ".repeat(indent))]
            };
            spans.push(Span::styled(piece, text_style));
            rows.push(Line::from(spans));
        }
    }
    rows
}

fn separator(text: String, color: Color, italic: bool) -> Line<'static> {
    let style = Style::new().fg(color);
    Line::styled(
        text,
        if italic {
            style.add_modifier(Modifier::ITALIC)
        } else {
            style
        },
    )
}

/// Rows of `b` from the newest back, stopping once `enough` rows are made
/// (`usize::MAX` for all). Returned newest first; `true` if all were made.
fn rows_back(
    b: &Buffer,
    width: usize,
    tz: &TimeZone,
    today: Date,
    enough: usize,
) -> (Vec<Line<'static>>, bool) {
    let mut out: Vec<Line<'static>> = Vec::new();
    let entries = &b.entries;
    for (i, e) in entries.iter().enumerate().rev() {
        out.extend(entry_rows(e, width, tz).into_iter().rev());
        let prev = i.checked_sub(1).and_then(|p| entries.get(p));
        if e.unread && !prev.is_some_and(|p| p.unread) {
            out.push(separator("--- UNREAD ---".to_owned(), ORANGE, false));
        }
        let day = tz.date_of(e.stamp);
        let prev_day = prev.map_or(today, |p| tz.date_of(p.stamp));
        if day != prev_day {
            out.push(separator(
                format!("--- {} ---", tz.date(e.stamp)),
                Color::Green,
                true,
            ));
        }
        if out.len() >= enough {
            return (out, i == 0);
        }
    }
    (out, true)
}

/// How many rows all of `b` takes at `width` columns.
pub fn count_rows(b: &Buffer, width: usize, tz: &TimeZone, today: Date) -> usize {
    rows_back(b, width, tz, today, usize::MAX).0.len()
}

/// The `height` rows of `b` on screen when scrolled `scroll` rows up from the
/// bottom (clamped at the top), oldest first.
pub fn visible_rows(
    b: &Buffer,
    width: usize,
    height: usize,
    tz: &TimeZone,
    today: Date,
) -> Vec<Line<'static>> {
    let (mut rows, _) = rows_back(b, width, tz, today, b.scroll.saturating_add(height));
    let total = rows.len();
    let skip = b.scroll.min(total.saturating_sub(height));
    let end = total.min(skip + height);
    rows.truncate(end);
    rows.drain(..skip);
    rows.reverse();
    rows
}

/// Draws the messages view of the buffer on screen.
pub fn draw(model: &Model, frame: &mut Frame, area: Rect) {
    let s = model.server();
    let title = match s.buffer() {
        Some(b) if b.scroll > 0 => format!(" {} @ {} (scrolled) ", b.name, s.name()),
        Some(b) => format!(" {} @ {} ", b.name, s.name()),
        None => " Messages ".to_owned(),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(b) = s.buffer() else { return };
    let today = model.tz.date_of(model.wall);
    let rows = visible_rows(
        b,
        usize::from(inner.width),
        usize::from(inner.height),
        &model.tz,
        today,
    );
    frame.render_widget(Paragraph::new(rows), inner);
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
}
