//! How the TUI announces a message outside the buffer in view on the
//! desktop ([`Notify`]): `ui_config.notify` in `config.json`, `/set
//! TUI.Notify` in the TUI.

use serde::{Deserialize, Serialize};

/// How a message outside the buffer in view is announced on the desktop,
/// besides the bell: a terminal escape sequence the terminal turns into a
/// desktop notification, the desktop's own notification service
/// (`notify-send`), or nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Notify {
    /// No desktop notification.
    #[default]
    Off,
    /// `OSC 777;notify;<title>;<body>` (rxvt-unicode, foot, kitty, WezTerm,
    /// Ghostty, VTE terminals such as GNOME Terminal).
    Osc777,
    /// `OSC 9;<text>` (iTerm2, Windows Terminal, WezTerm, kitty, Ghostty).
    Osc9,
    /// The desktop's notification service: `notify-send` (freedesktop),
    /// found on `PATH`, run for each notification.
    Desktop,
}

impl Notify {
    /// The value names `/set TUI.Notify` takes.
    pub const NAMES: [&'static str; 4] = ["off", "osc777", "osc9", "desktop"];

    /// The setting named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "off" | "none" | "false" => Some(Notify::Off),
            "osc777" | "777" => Some(Notify::Osc777),
            "osc9" | "9" => Some(Notify::Osc9),
            "desktop" | "notify-send" => Some(Notify::Desktop),
            _ => None,
        }
    }

    /// Its name, as `/config` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Notify::Off => "off",
            Notify::Osc777 => "osc777",
            Notify::Osc9 => "osc9",
            Notify::Desktop => "desktop",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_and_desktop_is_one() {
        for name in Notify::NAMES {
            assert_eq!(Notify::from_name(name).map(Notify::name), Some(name));
        }
        assert_eq!(Notify::from_name("Notify-Send"), Some(Notify::Desktop));
        assert_eq!(Notify::from_name("dbus"), None);
        assert_eq!(
            serde_json::from_str::<Notify>("\"desktop\"").ok(),
            Some(Notify::Desktop)
        );
        assert_eq!(
            serde_json::to_string(&Notify::Desktop).ok().as_deref(),
            Some("\"desktop\"")
        );
    }
}
