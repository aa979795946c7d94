//! The smaller panels: notifications bar, error bar, Users panel, input box.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::messages::char_width;
use crate::tui::model::{Focus, Model};

/// Spinner frames, shown while tasks run.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The unread counts to show: the current server's conversations other than
/// the one on screen, then the other servers' as `server/name`.
pub fn notifications(model: &Model) -> Vec<(String, u32)> {
    let here = model.server();
    let on_screen = here.buffer().map(|b| b.name.as_str());
    let mut out: Vec<(String, u32)> = here
        .unread
        .iter()
        .filter(|(name, n)| **n > 0 && Some(name.as_str()) != on_screen)
        .map(|(name, n)| (name.clone(), *n))
        .collect();
    for s in model.servers.iter().filter(|s| s.key != here.key) {
        out.extend(
            s.unread
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(name, n)| (format!("{}/{name}", s.name()), *n)),
        );
    }
    out
}

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

/// Lays out `text` (with the cursor at byte `cursor`) in rows of `width`
/// columns; returns the rows and the cursor's (row, column).
pub fn input_rows(text: &str, cursor: usize, width: usize) -> (Vec<String>, (usize, usize)) {
    let width = width.max(1);
    let mut rows = vec![String::new()];
    let (mut row, mut col) = (0, 0);
    let mut at = (0, 0);
    for (i, c) in text.char_indices() {
        if i == cursor {
            at = (row, col);
        }
        if c == '\n' {
            rows.push(String::new());
            row += 1;
            col = 0;
            continue;
        }
        let w = char_width(c);
        if col + w > width {
            rows.push(String::new());
            row += 1;
            col = 0;
            if i == cursor {
                at = (row, col);
            }
        }
        if let Some(r) = rows.last_mut() {
            r.push(c);
        }
        col += w;
    }
    if cursor >= text.len() {
        at = if col >= width {
            (row + 1, 0)
        } else {
            (row, col)
        };
        if col >= width {
            rows.push(String::new());
        }
    }
    (rows, at)
}

/// Draws the input box: a rule with the spinner, then ` > ` (or
/// ` (<user>) > `) and the text; the placeholder when empty.
pub fn draw_input(model: &Model, frame: &mut Frame, area: Rect) {
    let title = if model.pending > 0 {
        format!(" {} working ", SPINNER[model.spinner % SPINNER.len()])
    } else {
        String::new()
    };
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
