//! The smaller panels: notifications bar, error bar, Users panel, input box.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::tui::model::notifications::notifications;
use crate::tui::model::wrap::{char_width, str_width};
use crate::tui::model::{Focus, Model};

/// Spinner frames, shown while tasks run.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the notifications bar: ` name: n | name: n`.
pub fn draw_notifications(model: &Model, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    for (i, (name, n)) in notifications(model).into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" | "));
        }
        spans.push(Span::styled(
            name,
            Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(": "));
        spans.push(Span::styled(n.to_string(), Style::new().fg(Color::Green)));
    }
    frame.render_widget(Paragraph::new(vec![Line::raw(""), Line::from(spans)]), area);
}

/// Draws the error bar: ` Error: <text>!` in red.
pub fn draw_error(model: &Model, frame: &mut Frame, area: Rect) {
    if let Some((text, _)) = &model.error {
        let line = Line::styled(format!(" Error: {text}!"), Style::new().fg(Color::Red));
        frame.render_widget(Paragraph::new(line), area);
    }
}

/// Draws the Users panel: `[perm] name`, highest permission first.
pub fn draw_users(model: &Model, frame: &mut Frame, area: Rect) {
    let users = model.server().sorted_users();
    let lines: Vec<Line> = if users.is_empty() {
        vec![Line::raw("(Empty)")]
    } else {
        users
            .into_iter()
            .map(|(name, perm)| {
                Line::from(vec![
                    Span::styled(
                        format!("[{perm}]"),
                        Style::new()
                            .fg(Color::Magenta)
                            .add_modifier(Modifier::ITALIC),
                    ),
                    Span::raw(format!(" {name}")),
                ])
            })
            .collect()
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Users ")),
        area,
    );
}

/// The rows one line of text (no newline) takes at `width` columns, as
/// byte ranges of `line`: broken after whitespace, so that words stay whole;
/// a word wider than a row is broken where the row is full. Whitespace at a
/// break stays at the end of its row, even past the width (it shows as
/// nothing), so that every character of `line` is in exactly one row.
fn row_ranges(line: &str, width: usize) -> Vec<(usize, usize)> {
    let mut rows = Vec::new();
    let (mut start, mut col) = (0, 0);
    // Just after the row's last whitespace: (byte, columns up to there).
    let mut soft: Option<(usize, usize)> = None;
    for (i, c) in line.char_indices() {
        let w = char_width(c);
        if c.is_whitespace() {
            col += w;
            soft = Some((i + c.len_utf8(), col));
            continue;
        }
        if col + w > width && col > 0 {
            match soft.take() {
                Some((at, used)) if at > start => {
                    rows.push((start, at));
                    start = at;
                    col -= used;
                }
                _ => {
                    rows.push((start, i));
                    start = i;
                    col = 0;
                }
            }
            if col + w > width && col > 0 {
                rows.push((start, i));
                start = i;
                col = 0;
            }
        }
        col += w;
    }
    rows.push((start, line.len()));
    rows
}

/// Lays out `text` (with the cursor at byte `cursor`) in rows of `width`
/// columns, wrapped at word boundaries; returns the rows and the cursor's
/// (row, column). A cursor at the end of a full last row shows at the
/// start of an extra empty row, where the next character goes.
pub fn input_rows(text: &str, cursor: usize, width: usize) -> (Vec<String>, (usize, usize)) {
    let width = width.max(1);
    let mut rows: Vec<String> = Vec::new();
    let mut at = (0, 0);
    let mut base = 0;
    for line in text.split('\n') {
        let ranges = row_ranges(line, width);
        let end = base + line.len();
        if (base..=end).contains(&cursor) {
            let local = cursor - base;
            let r = ranges.iter().rposition(|&(s, _)| s <= local).unwrap_or(0);
            let (s, _) = ranges[r];
            let col = line.get(s..local).map_or(0, str_width);
            at = (rows.len() + r, col);
        }
        rows.extend(ranges.iter().map(|&(s, e)| line[s..e].to_owned()));
        base = end + 1;
    }
    if at.1 >= width {
        if cursor >= text.len() {
            rows.push(String::new());
            at = (at.0 + 1, 0);
        } else {
            at.1 = width - 1;
        }
    }
    (rows, at)
}

/// Draws the input box: a rule with the spinner, a note while the mouse is
/// the terminal's, and the Tab completion's candidates (the one put in
/// highlighted), then ` > ` (or ` (<user>) > `)
/// and the text; the placeholder when empty.
pub fn draw_input(model: &Model, frame: &mut Frame, area: Rect) {
    let mut title = Line::default();
    if model.pending > 0 {
        title.push_span(format!(
            " {} working ",
            SPINNER[model.spinner % SPINNER.len()]
        ));
    }
    if !model.config.mouse {
        title.push_span(Span::styled(
            " mouse off: the terminal selects (Alt-M) ",
            Style::new().fg(Color::DarkGray),
        ));
    }
    if let Some(c) = &model.completion {
        title.push_span(Span::styled(" Tab:", Style::new().fg(Color::Cyan)));
        for (i, name) in c.candidates.iter().enumerate() {
            let style = if i == c.index {
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
            } else {
                Style::new().fg(Color::Cyan)
            };
            title.push_span(Span::raw(" "));
            title.push_span(Span::styled(name.clone(), style));
        }
        title.push_span(Span::raw(" "));
    }
    let focused = model.focus == Focus::Input && model.popup.is_none();
    let border = if focused {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(border)
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let label = match &model.server().user {
        Some(u) => format!(" ({u}) > "),
        None => " > ".to_owned(),
    };
    let label_width = label.chars().count() as u16;
    frame.render_widget(
        Paragraph::new(Span::styled(
            label,
            Style::new().add_modifier(Modifier::BOLD),
        )),
        inner,
    );
    let text_area = Rect {
        x: inner.x + label_width.min(inner.width),
        width: inner.width.saturating_sub(label_width),
        ..inner
    };
    if model.input.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("Write here...", Style::new().fg(Color::Green))),
            text_area,
        );
        if focused {
            frame.set_cursor_position(Position::new(text_area.x, text_area.y));
        }
        return;
    }
    let (rows, (row, col)) = input_rows(
        model.input.text(),
        model.input.cursor(),
        usize::from(text_area.width),
    );
    let height = usize::from(text_area.height).max(1);
    let first = (row + 1).saturating_sub(height);
    let shown: Vec<Line> = rows
        .into_iter()
        .skip(first)
        .take(height)
        .map(Line::raw)
        .collect();
    frame.render_widget(Paragraph::new(shown), text_area);
    if focused {
        let y = text_area.y + (row - first) as u16;
        frame.set_cursor_position(Position::new(text_area.x + col as u16, y));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, width: usize) -> Vec<String> {
        input_rows(text, text.len(), width).0
    }

    #[test]
    fn input_wraps_at_word_boundaries() {
        assert_eq!(rows("hello world", 8), ["hello ", "world"]);
        assert_eq!(rows("one two three", 9), ["one two ", "three"]);
        assert_eq!(
            input_rows("one two three", 13, 5),
            (
                vec![
                    "one ".to_owned(),
                    "two ".to_owned(),
                    "three".to_owned(),
                    String::new()
                ],
                (3, 0)
            )
        );
        // A word wider than a row is cut where the row is full.
        assert_eq!(rows("a abcdefghij", 4), ["a ", "abcd", "efgh", "ij"]);
        assert_eq!(rows("日本語", 4), ["日本", "語"]);
        assert_eq!(rows("ab\ncd ef", 4), ["ab", "cd ", "ef"]);
        // The spaces at a break stay on their row; the next word starts the next one.
        assert_eq!(rows("ab    cd", 4), ["ab    ", "cd"]);
    }

    #[test]
    fn input_cursor_follows_the_wrapped_rows() {
        let text = "hello world";
        assert_eq!(input_rows(text, 0, 8).1, (0, 0));
        assert_eq!(input_rows(text, 5, 8).1, (0, 5));
        assert_eq!(input_rows(text, 6, 8).1, (1, 0), "the next row's start");
        assert_eq!(input_rows(text, text.len(), 8).1, (1, 5));
        assert_eq!(input_rows("abcd", 4, 4).1, (1, 0), "after a full row");
        assert_eq!(input_rows("hi\nthere", 3, 10).1, (1, 0));
        // Inside spaces hanging past the width: kept within the row.
        assert_eq!(input_rows("ab    cd", 5, 4).1, (0, 3));
    }

    #[test]
    fn input_rows_keep_every_character_once() {
        for text in [
            "",
            "a",
            "hello wonderful world of words",
            "x y  z\n\nlong-word-without-spaces here",
            "héllo wörld 日本語 ab",
            "   leading and trailing   ",
        ] {
            for width in 1..12 {
                let (rows, _) = input_rows(text, text.len(), width);
                let joined: String = rows.concat();
                assert_eq!(joined, text.replace('\n', ""), "{text:?} at {width}");
                for cursor in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                    let (rows, (row, col)) = input_rows(text, cursor, width);
                    assert!(row < rows.len() && col < width.max(1), "{text:?} {cursor}");
                }
            }
        }
    }
}
