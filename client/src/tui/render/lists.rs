//! The left column: the Buffers list above the Servers list, with their
//! shortcut keys (1-9, then a-z).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState};

use crate::tui::model::layout::{SERVER_ROWS, list_offset};
use crate::tui::model::shortcuts::shortcut;
use crate::tui::model::{BufferKind, Focus, Link, Model};

/// Plum, for the selected system buffer.
const PLUM: Color = Color::Rgb(221, 160, 221);
/// Purple, for the selected item.
const PURPLE: Color = Color::Rgb(128, 0, 128);

fn block(title: &str, focused: bool) -> Block<'static> {
    let b = Block::bordered().title(format!(" {title} "));
    if focused {
        b.border_style(Style::new().fg(Color::Yellow))
    } else {
        b
    }
}

/// Draws the Buffers list.
pub fn draw_buffers(model: &Model, frame: &mut Frame, area: Rect) {
    let s = model.server();
    let mut selected = None;
    let items: Vec<ListItem> = s
        .visible()
        .enumerate()
        .map(|(n, (i, b))| {
            let unread = s.unread.get(&b.name).copied().unwrap_or(0);
            let mut spans = vec![
                Span::styled(
                    format!("{} ", shortcut(n + 1)),
                    Style::new().fg(Color::Yellow),
                ),
                Span::raw(b.name.clone()),
            ];
            if unread > 0 {
                spans.push(Span::styled(
                    format!(" ({unread})"),
                    Style::new().fg(Color::Green),
                ));
            }
            if i == s.current {
                selected = Some(n);
                let color = if b.kind == BufferKind::System {
                    PLUM
                } else {
                    PURPLE
                };
                spans[1] = spans[1].clone().style(
                    Style::new()
                        .fg(color)
                        .add_modifier(Modifier::UNDERLINED | Modifier::BOLD),
                );
            }
            ListItem::new(Line::from(spans))
        })
        .collect();
    let list = List::new(items).block(block("Buffers", model.focus == Focus::Buffers));
    let offset = list_offset(
        selected.unwrap_or(0),
        1,
        usize::from(area.height.saturating_sub(2)),
    );
    let mut state = ListState::default()
        .with_offset(offset)
        .with_selected(selected);
    frame.render_stateful_widget(list, area, &mut state);
}

/// Draws the Servers list: name, and `TLS address:port` (or `TCP ...`)
/// below it; connected servers are green and marked `●`.
pub fn draw_servers(model: &Model, frame: &mut Frame, area: Rect) {
    let mut selected = None;
    let items: Vec<ListItem> = model
        .visible_servers()
        .enumerate()
        .map(|(n, (i, s))| {
            let online = s.link == Link::Online;
            let mut name_style = Style::new();
            if online {
                name_style = name_style.fg(Color::Green);
            }
            if i == model.current {
                selected = Some(n);
                name_style = name_style.add_modifier(Modifier::UNDERLINED | Modifier::BOLD);
                if !online {
                    name_style = name_style.fg(PURPLE);
                }
            }
            let mark = match s.link {
                Link::Online => Span::styled("● ", Style::new().fg(Color::Green)),
                Link::Connecting => Span::styled("… ", Style::new().fg(Color::Yellow)),
                Link::Offline => Span::raw("  "),
            };
            // The transport goes first, where a narrow list does not cut it.
            let secondary = s.record.as_ref().map_or_else(
                || "System Server".to_owned(),
                |r| {
                    let transport = if r.tls { "TLS" } else { "TCP" };
                    format!("{transport} {}:{}", r.address, r.port)
                },
            );
            ListItem::new(vec![
                Line::from(vec![
                    Span::styled(
                        format!("{} ", shortcut(n + 1)),
                        Style::new().fg(Color::Yellow),
                    ),
                    mark,
                    Span::styled(s.name().to_owned(), name_style),
                ]),
                Line::styled(format!("    {secondary}"), Style::new().fg(Color::DarkGray)),
            ])
        })
        .collect();
    let list = List::new(items).block(block("Servers", model.focus == Focus::Servers));
    let offset = list_offset(
        selected.unwrap_or(0),
        SERVER_ROWS,
        usize::from(area.height.saturating_sub(2)),
    );
    let mut state = ListState::default()
        .with_offset(offset)
        .with_selected(selected);
    frame.render_stateful_widget(list, area, &mut state);
}
