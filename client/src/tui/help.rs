//! The help page: every key and every slash command.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::commands::COMMANDS;

/// Every key binding: keys, what they do.
pub const KEYS: &[(&str, &str)] = &[
    ("Ctrl-Q", "Quit"),
    (
        "F1, Ctrl-Alt-L, Ctrl-Shift-L",
        "Show/hide this help (Esc closes it)",
    ),
    ("Ctrl-B", "Show/hide the Buffers and Servers lists"),
    ("Ctrl-U", "Show/hide the Users panel"),
    (
        "Ctrl-T",
        "Switch the focus between the messages and the input",
    ),
    ("Ctrl-K", "Focus the Buffers list"),
    ("Ctrl-S", "Focus the Servers list"),
    ("Ctrl-G", "Quick switcher: go to a buffer (Tab completes)"),
    ("Alt-Up, Alt-Down", "Previous / next buffer"),
    ("Shift-Up, Shift-Down", "Previous / next server"),
    (
        "PgUp, PgDn",
        "Scroll the messages; older history loads at the top",
    ),
    ("Ctrl-R", "Redraw the screen"),
    ("Enter", "Send the text, or run the /command"),
    ("Shift-Enter, Alt-Enter, Ctrl-J", "New line in the input"),
    ("Up, Down (empty input)", "Walk through the command history"),
    ("Esc (input)", "Clear the input"),
    ("Ctrl-N (in a list)", "New buffer / new server"),
    (
        "Tab (new server's address)",
        "Turn TLS on or off for it (on at first)",
    ),
    ("Ctrl-W (in a list)", "Hide the buffer / server"),
    ("Ctrl-X (in a list)", "Delete the buffer / server"),
    ("1-9, a-z (in a list)", "Jump to a buffer / server"),
    ("Up, Down (in a list)", "Previous / next item"),
    ("Enter, Space, Esc (in a list)", "Back to the input"),
    (
        "y, n, Esc, Tab, Enter (confirm)",
        "Yes / No / No / move the highlight / the highlighted answer (No at first)",
    ),
    (
        "Esc, Shift-Esc (messages)",
        "Scroll to the end / to the beginning",
    ),
    ("Up, Down, Home, End (messages)", "Scroll"),
];

/// The help page's lines.
pub fn lines() -> Vec<Line<'static>> {
    let head = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    let key = Style::new().fg(Color::Cyan);
    let mut out = vec![
        Line::styled("gochat help", head),
        Line::raw(""),
        Line::raw(
            "Type a text and press Enter to send it to the buffer's user; a line starting with / is a command.",
        ),
        Line::raw(
            "Start with /connect, then /register <name> or /login <name>, then Ctrl-N in the Buffers list (Ctrl-K) to open a conversation.",
        ),
        Line::raw(""),
        Line::styled("Keys", head),
    ];
    for (k, what) in KEYS {
        out.push(Line::from(vec![
            Span::styled(format!("  {k:<32}"), key),
            Span::raw(*what),
        ]));
    }
    out.push(Line::raw(""));
    out.push(Line::styled("Commands", head));
    for (name, args, what) in COMMANDS {
        let usage = if args.is_empty() {
            format!("/{name}")
        } else {
            format!("/{name} {args}")
        };
        out.push(Line::styled(format!("  {usage}"), key));
        out.push(Line::raw(format!("      {what}")));
    }
    out.push(Line::raw(""));
    out.push(Line::raw("Settings for /set: TUI.Buflist.Size, TUI.Buflist.Relative, TUI.Userlist.Size, TUI.Userlist.Relative, TUI.Verbose, TUI.Bell, Server.Name, Server.Address, Server.Port, Server.TLS."));
    out
}
