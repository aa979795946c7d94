//! The messages view: entries as `[sender] at 3:04PM: text` (the date
//! before the time when it is not today), continuation
//! lines indented under the text, date separators, the `--- UNREAD ---`
//! marker, wrapping, the words of a search highlighted, and scrolling from
//! the bottom. Rows are built from the
//! newest entry back, only as many as the view shows; how text falls into
//! rows and which marks go where come from the model, which counts the rows
//! the same way.

use jiff::civil::Date;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::time::TimeZone;
use crate::tui::model::rows::marks;
use crate::tui::model::search::find;
use crate::tui::model::wrap::{EntryText, PREFIX_PARTS, Prefix, entry_text};
use crate::tui::model::{Buffer, Entry, Model, Sender};

/// The unread marker's colour (orange).
const ORANGE: Color = Color::Indexed(208);

fn sender_color(sender: &Sender) -> Color {
    match sender {
        Sender::You => Color::Yellow,
        Sender::System => Color::Magenta,
        Sender::User(_) => Color::Blue,
        Sender::Plain => Color::Reset,
    }
}

/// The spans of `[name] at 3:04PM: ` for an entry by `sender`.
fn prefix_spans(prefix: &Prefix, sender: &Sender) -> Vec<Span<'static>> {
    let [open, at, colon] = PREFIX_PARTS;
    vec![
        Span::raw(open),
        Span::styled(
            prefix.name.clone(),
            Style::new()
                .fg(sender_color(sender))
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(at),
        Span::styled(
            prefix.time.clone(),
            Style::new()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::UNDERLINED),
        ),
        Span::raw(colon),
    ]
}

/// The spans of `piece` in `style`, the places that hold `highlight` marked.
fn highlighted(piece: String, style: Style, highlight: Option<&str>) -> Vec<Span<'static>> {
    let Some(query) = highlight else {
        return vec![Span::styled(piece, style)];
    };
    let mark = Style::new()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD);
    let mut spans = Vec::new();
    let mut at = 0;
    for (start, end) in find(&piece, query) {
        if start > at {
            spans.push(Span::styled(piece[at..start].to_owned(), style));
        }
        spans.push(Span::styled(piece[start..end].to_owned(), mark));
        at = end;
    }
    if at < piece.len() || spans.is_empty() {
        spans.push(Span::styled(piece[at..].to_owned(), style));
    }
    spans
}

/// The rows of one entry at `width` columns, its time in `tz` (with its
/// date unless it is of `today`), the places that hold `highlight` marked.
pub fn entry_rows(
    e: &Entry,
    width: usize,
    tz: &TimeZone,
    today: Date,
    highlight: Option<&str>,
) -> Vec<Line<'static>> {
    let EntryText {
        prefix,
        indent,
        rows,
    } = entry_text(e, width, tz, today);
    let Some(prefix) = prefix else {
        return rows
            .into_iter()
            .map(|r| Line::styled(r, Style::new().fg(Color::Cyan)))
            .collect();
    };
    let text_style = if e.pending {
        Style::new().fg(Color::DarkGray)
    } else {
        Style::new()
    };
    rows.into_iter()
        .enumerate()
        .map(|(k, piece)| {
            let mut spans = if k == 0 {
                prefix_spans(&prefix, &e.sender)
            } else {
                vec![Span::raw(" ".repeat(indent))]
            };
            spans.extend(highlighted(piece, text_style, highlight));
            Line::from(spans)
        })
        .collect()
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

/// Rows of `b` from the newest back, stopping once `enough` rows are made.
/// Returned newest first.
fn rows_back(
    b: &Buffer,
    width: usize,
    tz: &TimeZone,
    today: Date,
    enough: usize,
) -> Vec<Line<'static>> {
    let mut out: Vec<Line<'static>> = Vec::new();
    let entries = b.entries();
    let day_of = |i: usize, e: &Entry| b.day(i).unwrap_or_else(|| tz.date_of(e.stamp));
    for (i, e) in entries.iter().enumerate().rev() {
        out.extend(
            entry_rows(e, width, tz, today, b.highlight.as_deref())
                .into_iter()
                .rev(),
        );
        let prev_i = i.checked_sub(1);
        let prev = prev_i.and_then(|p| entries.get(p));
        let day = day_of(i, e);
        let prev_day = match (prev_i, prev) {
            (Some(p), Some(pe)) => day_of(p, pe),
            _ => today,
        };
        let m = marks(e, prev, day, prev_day);
        if m.unread {
            out.push(separator("--- UNREAD ---".to_owned(), ORANGE, false));
        }
        if m.date {
            out.push(separator(
                format!("--- {} ---", tz.date(e.stamp)),
                Color::Green,
                true,
            ));
        }
        if out.len() >= enough {
            break;
        }
    }
    out
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
    let mut rows = rows_back(b, width, tz, today, b.scroll.saturating_add(height));
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
