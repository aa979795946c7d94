//! What covers the messages view: the help page and the popups.

use ratatui::Frame;
use ratatui::layout::{Constraint, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::panels::input_rows;
use crate::tui::help;
use crate::tui::model::Model;
use crate::tui::model::input::Input;
use crate::tui::model::popup::{Confirm, Popup, Prompt, candidates};
use crate::tui::model::wrap::{str_width, wrap};

/// Draws the help page in `area`.
pub fn draw_help(model: &Model, frame: &mut Frame, area: Rect) {
    let block = Block::bordered()
        .title(" Help (Esc to close) ")
        .border_style(Style::new().fg(Color::Yellow));
    let page = Paragraph::new(help::lines())
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((model.help_scroll, 0));
    frame.render_widget(page, area);
}

fn boxed(area: Rect, width: u16, height: u16) -> Rect {
    area.centered(
        Constraint::Length(width.min(area.width)),
        Constraint::Length(height.min(area.height)),
    )
}

/// Draws `input` in `area` (masked with `*` when asked) with the cursor.
fn draw_field(frame: &mut Frame, area: Rect, input: &Input, masked: bool, hint: Option<&str>) {
    let (text, cursor) = if masked {
        let n = input.text()[..input.cursor()].chars().count();
        ("*".repeat(input.text().chars().count()), n)
    } else {
        (input.text().to_owned(), input.cursor())
    };
    let (rows, (row, col)) = input_rows(&text, cursor, usize::from(area.width));
    let first = row.saturating_sub(usize::from(area.height.saturating_sub(1)));
    let mut lines: Vec<Line> = rows.into_iter().skip(first).map(Line::raw).collect();
    if let (Some(hint), Some(last)) = (hint, lines.last_mut()) {
        last.push_span(Span::styled(
            hint.to_owned(),
            Style::new().fg(Color::DarkGray),
        ));
    }
    frame.render_widget(Paragraph::new(lines), area);
    frame.set_cursor_position(Position::new(
        area.x + col as u16,
        area.y + (row - first) as u16,
    ));
}

/// Draws the open popup, centred on `area`.
pub fn draw_popup(model: &Model, frame: &mut Frame, area: Rect) {
    let Some(popup) = &model.popup else { return };
    match popup {
        Popup::Prompt(p) => draw_prompt(p, frame, area),
        Popup::Confirm(c) => draw_confirm(c, frame, area),
        Popup::Switcher(s) => {
            let rect = boxed(area, 44, 3);
            frame.render_widget(Clear, rect);
            let block = Block::bordered()
                .title(" Go to... ")
                .border_style(Style::new().fg(Color::Cyan));
            let inner = block.inner(rect);
            frame.render_widget(block, rect);
            let names = candidates(model.server());
            let typed = s.input.text();
            let hint = s
                .completion(&names)
                .filter(|n| n.len() >= typed.len() && n.is_char_boundary(typed.len()))
                .map(|n| &n[typed.len()..]);
            draw_field(frame, inner, &s.input, false, hint);
        }
    }
}

/// Draws a text prompt: the question as its title, the field, and under it
/// the prompt's toggle when it has one (the new server's TLS).
fn draw_prompt(p: &Prompt, frame: &mut Frame, area: Rect) {
    let toggle = p.toggle_line();
    let widest = toggle
        .as_deref()
        .map_or(0, str_width)
        .max(str_width(&p.title));
    let width = u16::try_from(widest + 4).unwrap_or(u16::MAX).max(44);
    let height = if toggle.is_some() { 4 } else { 3 };
    let rect = boxed(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(format!(" {} ", p.title))
        .border_style(Style::new().fg(Color::Cyan));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let field = Rect {
        height: inner.height.min(1),
        ..inner
    };
    if let Some(text) = toggle
        && inner.height > 1
    {
        let row = Rect {
            y: inner.y + 1,
            height: 1,
            ..inner
        };
        let line = Line::styled(text, Style::new().fg(Color::Yellow));
        frame.render_widget(Paragraph::new(line), row);
    }
    draw_field(frame, field, &p.input, p.masked, None);
}

/// The Yes and No buttons: the one Enter takes is marked `> <` and
/// highlighted, so it shows without colours too.
fn confirm_buttons(c: &Confirm) -> Line<'static> {
    let selected = Style::new()
        .fg(Color::Black)
        .bg(Color::White)
        .add_modifier(Modifier::BOLD);
    let button = |label: &str, on: bool| {
        if on {
            Span::styled(format!("> {label} <"), selected)
        } else {
            Span::raw(format!("  {label}  "))
        }
    };
    Line::from(vec![
        button("Yes", c.yes),
        Span::raw("   "),
        button("No", !c.yes),
    ])
    .centered()
}

/// `text` cut into rows of at most `width` columns at spaces, each centred.
fn centred_rows(text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    text.lines()
        .flat_map(|l| wrap(l, width, width))
        .map(|r| Line::styled(r.trim_end().to_owned(), style).centered())
        .collect()
}

/// The confirmation's lines for an inner width of `width` columns: the
/// question (wrapped, never cut), a blank line, the buttons, the key hint.
pub fn confirm_lines(c: &Confirm, width: usize) -> Vec<Line<'static>> {
    let mut lines = centred_rows(&c.text, width, Style::new());
    lines.push(Line::raw(""));
    lines.push(confirm_buttons(c));
    let hint = Style::new().fg(Color::DarkGray);
    lines.extend(
        pack(&c.hint_items(), ", ", width)
            .into_iter()
            .flat_map(|row| centred_rows(&row, width, hint)),
    );
    lines
}

/// `items` joined with `sep` into rows of at most `width` columns, an item
/// split only when it is wider than a row on its own.
fn pack(items: &[String], sep: &str, width: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for item in items {
        match rows.last_mut() {
            Some(row) if str_width(row) + str_width(sep) + str_width(item) <= width => {
                row.push_str(sep);
                row.push_str(item);
            }
            Some(row) => {
                row.push_str(sep.trim_end());
                rows.push(item.clone());
            }
            None => rows.push(item.clone()),
        }
    }
    rows
}

/// Draws a yes/no question, sized to its text (as wide as its longest line,
/// at most the screen; longer lines wrap).
fn draw_confirm(c: &Confirm, frame: &mut Frame, area: Rect) {
    let widest = c
        .text
        .lines()
        .chain(std::iter::once(c.hint().as_str()))
        .map(str_width)
        .max()
        .unwrap_or(0)
        .max(confirm_buttons(c).width());
    let width = u16::try_from(widest + 4)
        .unwrap_or(u16::MAX)
        .min(area.width);
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let lines = confirm_lines(c, inner);
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let rect = boxed(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(" Confirm ")
        .border_style(Style::new().fg(Color::Red));
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
