//! The F1 help page names the new keys and every `/set` option.

use gochat_client::tui::help;
use gochat_client::tui::model::ui_config::SET_OPTIONS;

#[test]
fn help_names_the_new_keys_and_every_setting() {
    let text: String = help::lines().iter().map(|l| l.to_string() + "\n").collect();
    for k in [
        "Ctrl-A, Ctrl-E",
        "Alt-B, Alt-F",
        "Ctrl-W, Alt-Backspace, Alt-D",
        "Ctrl-Y",
        "Ctrl-Z, Ctrl-_",
        "Tab, Shift-Tab",
        "Ctrl-F",
        "Alt-M",
        "draft",
    ] {
        assert!(text.contains(k), "{k} missing from help");
    }
    for option in SET_OPTIONS {
        assert!(text.contains(option), "{option} missing from help");
    }
    for explained in ["TUI.Notify off|osc777|osc9", "Server.AutoLogin <user>|none"] {
        assert!(text.contains(explained), "{explained} missing from help");
    }
}
