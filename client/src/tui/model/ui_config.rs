//! The TUI's layout and behaviour settings ([`UiConfig`], changed with
//! `/set TUI.*`), and the names `/set` knows ([`SET_OPTIONS`]).

use crate::config::Settings;

/// How a message outside the buffer in view is announced on the desktop,
/// besides the bell: a terminal escape sequence the terminal turns into a
/// desktop notification, or nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Notify {
    /// No desktop notification.
    #[default]
    Off,
    /// `OSC 777;notify;<title>;<body>` (rxvt-unicode, foot, kitty, WezTerm,
    /// Ghostty, VTE terminals such as GNOME Terminal).
    Osc777,
    /// `OSC 9;<text>` (iTerm2, Windows Terminal, WezTerm, kitty, Ghostty).
    Osc9,
}

impl Notify {
    /// The value names `/set TUI.Notify` takes.
    pub const NAMES: [&'static str; 3] = ["off", "osc777", "osc9"];

    /// The setting named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "off" | "none" | "false" => Some(Notify::Off),
            "osc777" | "777" => Some(Notify::Osc777),
            "osc9" | "9" => Some(Notify::Osc9),
            _ => None,
        }
    }

    /// Its name, as `/config` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Notify::Off => "off",
            Notify::Osc777 => "osc777",
            Notify::Osc9 => "osc9",
        }
    }
}

/// Every option `/set` changes: `TUI.*` in memory at once, `Server.*` for
/// the server on screen.
pub const SET_OPTIONS: &[&str] = &[
    "TUI.Buflist.Size",
    "TUI.Buflist.Relative",
    "TUI.Userlist.Size",
    "TUI.Userlist.Relative",
    "TUI.Verbose",
    "TUI.Bell",
    "TUI.Notify",
    "TUI.AutoOpen",
    "TUI.Mouse",
    "Server.Name",
    "Server.Address",
    "Server.Port",
    "Server.TLS",
    "Server.AutoConnect",
    "Server.AutoLogin",
];

/// Layout and behaviour settings (`/set TUI.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiConfig {
    /// Width of the left column (relative share, or columns).
    pub buflist_size: u16,
    /// Whether `buflist_size` is a share of the width.
    pub buflist_relative: bool,
    /// Width of the Users panel (relative share, or columns).
    pub userlist_size: u16,
    /// Whether `userlist_size` is a share of the width.
    pub userlist_relative: bool,
    /// Show intermediate steps.
    pub verbose: bool,
    /// Ring the bell for messages outside the buffer in view.
    pub bell: bool,
    /// Desktop notifications for messages outside the buffer in view.
    pub notify: Notify,
    /// Open a conversation's buffer when someone writes for the first time.
    pub auto_open: bool,
    /// Take the mouse (clicks and wheel); off, the terminal selects text.
    pub mouse: bool,
    /// Show the Debug buffer.
    pub debug_buffer: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            buflist_size: 2,
            buflist_relative: true,
            userlist_size: 1,
            userlist_relative: true,
            verbose: false,
            bell: true,
            notify: Notify::Off,
            auto_open: true,
            mouse: true,
            debug_buffer: false,
        }
    }
}

impl UiConfig {
    /// The settings' TUI part.
    pub fn from_settings(settings: &Settings) -> Self {
        UiConfig {
            verbose: settings.verbose,
            bell: settings.bell,
            debug_buffer: settings.debug_buffer && settings.verbose,
            ..UiConfig::default()
        }
    }
}
