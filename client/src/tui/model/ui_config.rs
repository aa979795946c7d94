//! The TUI's layout and behaviour settings ([`UiConfig`], changed with
//! `/set TUI.*`), and the names `/set` knows ([`SET_OPTIONS`]).

pub use crate::config::Notify;
use crate::config::Settings;

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
            notify: settings.notify,
            auto_open: settings.auto_open,
            mouse: settings.mouse,
            debug_buffer: settings.debug_buffer && settings.verbose,
            ..UiConfig::default()
        }
    }
}
