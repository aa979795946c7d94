//! What covers the messages view: the help page and the popups.

use ratatui::Frame;
use ratatui::layout::{Constraint, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::panels::input_rows;
use crate::tui::help;
use crate::tui::input::Input;
use crate::tui::model::Model;
use crate::tui::popup::Popup;
use crate::tui::switcher;

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
        Popup::Prompt(p) => {
            let width = (p.title.chars().count() as u16 + 4).max(44);
            let rect = boxed(area, width, 3);
            frame.render_widget(Clear, rect);
            let block = Block::bordered()
                .title(format!(" {} ", p.title))
                .border_style(Style::new().fg(Color::Cyan));
            let inner = block.inner(rect);
            frame.render_widget(block, rect);
            draw_field(frame, inner, &p.input, p.masked, None);
        }
        Popup::Confirm(c) => {
            let lines = c.text.lines().count() as u16;
            let rect = boxed(area, 44, lines + 4);
            frame.render_widget(Clear, rect);
            let block = Block::bordered()
                .title(" Confirm ")
                .border_style(Style::new().fg(Color::Red));
            let selected = Style::new()
                .fg(Color::Black)
                .bg(Color::White)
                .add_modifier(Modifier::BOLD);
            let (yes, no) = if c.yes {
                (selected, Style::new())
            } else {
                (Style::new(), selected)
            };
            let mut text: Vec<Line> = c
                .text
                .lines()
                .map(|l| Line::raw(l.to_owned()).centered())
                .collect();
            text.push(Line::raw(""));
            text.push(
                Line::from(vec![
                    Span::styled("[ Yes ]", yes),
                    Span::raw("   "),
                    Span::styled("[ No ]", no),
                ])
                .centered(),
            );
            frame.render_widget(Paragraph::new(text).block(block), rect);
        }
        Popup::Switcher(s) => {
            let rect = boxed(area, 44, 3);
            frame.render_widget(Clear, rect);
            let block = Block::bordered()
                .title(" Go to... ")
                .border_style(Style::new().fg(Color::Cyan));
            let inner = block.inner(rect);
            frame.render_widget(block, rect);
            let names = switcher::candidates(model.server());
            let typed = s.input.text();
            let hint = s
                .completion(&names)
                .filter(|n| n.len() >= typed.len() && n.is_char_boundary(typed.len()))
                .map(|n| &n[typed.len()..]);
            draw_field(frame, inner, &s.input, false, hint);
        }
    }
}
