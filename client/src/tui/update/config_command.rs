//! `/config` and `/set`: the TUI's layout settings (in memory) and the
//! current server's record (stored, while offline).

use super::task_start::{here, start};
use super::{auto_start, mouse};
use crate::tui::model::{Link, Model, Notify};
use crate::tui::msg::{Effect, Tag, Task};

/// `value` as on (`true`, `yes`, `on`, `1`) or off (`false`, `no`, `off`,
/// `0`).
pub fn yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `/config`: prints every setting `/set` changes.
pub fn show(model: &mut Model) {
    let c = &model.config;
    let mut lines = vec![
        "Showing configuration options:".to_owned(),
        format!("- TUI.Buflist.Size = {}", c.buflist_size),
        format!("- TUI.Buflist.Relative = {}", c.buflist_relative),
        format!("- TUI.Userlist.Size = {}", c.userlist_size),
        format!("- TUI.Userlist.Relative = {}", c.userlist_relative),
        format!("- TUI.Verbose = {}", c.verbose),
        format!("- TUI.Bell = {}", c.bell),
        format!("- TUI.Notify = {}", c.notify.name()),
        format!("- TUI.AutoOpen = {}", c.auto_open),
        format!("- TUI.Mouse = {}", c.mouse),
    ];
    if let Some(r) = &model.server().record {
        lines.push(format!("- Server.Address = {}", r.address));
        lines.push(format!("- Server.Port = {}", r.port));
        lines.push(format!("- Server.TLS = {}", r.tls));
        lines.push(format!("- Server.Name = {}", r.name));
        let start = &model.server().start;
        lines.push(format!("- Server.AutoConnect = {}", start.auto_connect));
        lines.push(format!(
            "- Server.AutoLogin = {}",
            start.auto_login.as_deref().unwrap_or("none")
        ));
    }
    model.say(lines.join("\n"));
}

/// `/set <option> <value>`.
pub fn set(model: &mut Model, option: &str, value: &str, fx: &mut Vec<Effect>) {
    let bad = |m: &mut Model| m.say(format!("Running set: invalid value {value:?} for {option}"));
    let size = value.parse::<u16>().ok().filter(|n| *n <= 200);
    let flag = yes_no(value);
    let c = &mut model.config;
    let done = match option {
        "TUI.Buflist.Size" => size.map(|n| c.buflist_size = n),
        "TUI.Buflist.Relative" => flag.map(|b| c.buflist_relative = b),
        "TUI.Userlist.Size" => size.map(|n| c.userlist_size = n),
        "TUI.Userlist.Relative" => flag.map(|b| c.userlist_relative = b),
        "TUI.Verbose" => flag.map(|b| c.verbose = b),
        "TUI.Bell" => flag.map(|b| c.bell = b),
        "TUI.AutoOpen" => flag.map(|b| c.auto_open = b),
        "TUI.Notify" => Notify::from_name(value).map(|n| c.notify = n),
        "TUI.Mouse" => flag.map(|b| mouse::set_capture(model, b, fx)),
        "Server.Address" | "Server.Port" | "Server.TLS" | "Server.Name" => {
            return set_server(model, option, value, fx);
        }
        "Server.AutoConnect" | "Server.AutoLogin" => {
            return auto_start::set(model, option, value, fx);
        }
        _ => {
            model.say(format!(
                "Running set: unknown option {option} (see /config)"
            ));
            return;
        }
    };
    match done {
        Some(()) => model.say(format!("successfully changed {option} to {value}")),
        None => bad(model),
    }
}

fn set_server(model: &mut Model, option: &str, value: &str, fx: &mut Vec<Effect>) {
    let s = model.server();
    let Some(mut record) = s.record.clone() else {
        model.set_error("performing action on local server");
        return;
    };
    if s.link != Link::Offline {
        model.set_error("you must be offline to change the server's settings");
        return;
    }
    let ok = match option {
        "Server.Address" => {
            record.address = value.to_owned();
            !value.is_empty() && !value.contains(char::is_whitespace)
        }
        "Server.Port" => value
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .map(|p| record.port = p)
            .is_some(),
        "Server.TLS" => yes_no(value).map(|b| record.tls = b).is_some(),
        _ => {
            record.name = value.to_owned();
            !value.is_empty()
        }
    };
    if !ok {
        model.say(format!("Running set: invalid value {value:?} for {option}"));
        return;
    }
    let ctx = here(model, "set", Tag::Plain);
    start(model, fx, ctx, Task::UpdateServer(record));
}
