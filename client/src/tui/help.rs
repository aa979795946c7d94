//! The help page: every key and every slash command.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::commands::COMMANDS;
use super::model::ui_config::SET_OPTIONS;

/// Every key binding: keys, what they do.
pub const KEYS: &[(&str, &str)] = &[
    ("Ctrl-Q", "Quit"),
    (
        "F1, Ctrl-Alt-L, Ctrl-Shift-L",
        "Show/hide this help (Esc closes it)",
    ),
    ("Ctrl-B", "Show/hide the Buffers and Servers lists"),
    (
        "Ctrl-U",
        "Show/hide the Users panel (in the input, with text before the cursor: delete it)",
    ),
    (
        "Ctrl-T",
        "Switch the focus between the messages and the input",
    ),
    (
        "Ctrl-K",
        "Focus the Buffers list (in the input, with text after the cursor: delete it)",
    ),
    ("Ctrl-S", "Focus the Servers list"),
    ("Ctrl-G", "Quick switcher: go to a buffer (Tab completes)"),
    (
        "Ctrl-F",
        "Search this buffer's history (Tab in the popup: every conversation)",
    ),
    ("Alt-Up, Alt-Down", "Previous / next buffer"),
    ("Shift-Up, Shift-Down", "Previous / next server"),
    (
        "PgUp, PgDn",
        "Scroll the messages; older history loads at the top",
    ),
    ("Ctrl-R", "Redraw the screen"),
    (
        "Alt-M",
        "Mouse on/off: off, the terminal selects text (on: click a buffer or server, wheel scrolls)",
    ),
    ("Enter", "Send the text, or run the /command"),
    ("Shift-Enter, Alt-Enter, Ctrl-J", "New line in the input"),
    ("Up, Down (empty input)", "Walk through the command history"),
    ("Esc (input)", "Clear the input (Ctrl-Z brings it back)"),
    ("Ctrl-A, Ctrl-E (input)", "Start / end of the line"),
    (
        "Alt-B, Alt-F, Ctrl-Left/Right",
        "Previous / next word in the input",
    ),
    (
        "Ctrl-W, Alt-Backspace, Alt-D",
        "Delete the word before / after the cursor",
    ),
    ("Ctrl-Y (input)", "Put back what the last delete took"),
    ("Ctrl-Z, Ctrl-_ (input)", "Undo"),
    (
        "Tab, Shift-Tab (input)",
        "Complete a command, its options or a user name; again: next / previous candidate",
    ),
    (
        "(switching buffers)",
        "What is typed stays with its buffer, as a draft",
    ),
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
    ("Esc (messages)", "Also ends the highlight of a search"),
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
        Line::raw(
            "Tab completes commands and names, Ctrl-F searches, Alt-M gives the mouse back to the terminal to select text; /set Server.AutoConnect true and /set Server.AutoLogin <name> bring you online at start.",
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
    out.push(Line::raw(format!(
        "Settings for /set (see /config): {}.",
        SET_OPTIONS.join(", ")
    )));
    out.push(Line::raw(
        "TUI.AutoOpen true|false: open a buffer when someone writes for the first time (on).",
    ));
    for line in [
        "TUI.Notify off|osc777|osc9|desktop: also a desktop notification, through the terminal (osc777, osc9) or notify-send (desktop), for a message outside the buffer in view (off).",
        "TUI.Mouse true|false: take the mouse (on); Alt-M switches it.",
        "Server.AutoConnect true|false: connect to the server on screen when the TUI starts (stored).",
        "Server.AutoLogin <user>|none: log in as <user> at connect; the password is asked the first time in a run and kept in memory until the TUI quits (stored).",
        "Errors also go to the System buffer of the Local server, where they can be read later.",
    ] {
        out.push(Line::raw(line));
    }
    out
}
