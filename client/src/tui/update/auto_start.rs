//! What servers do by themselves: connecting to a server (by `/connect`,
//! or at start for those with `Server.AutoConnect`), and logging in at
//! connect as the account `Server.AutoLogin` names, asking its password the
//! first time in a run and keeping it in memory for the rest of the run.

use super::task_start::start;
use crate::tui::model::popup::{Prompt, Purpose, PwAction};
use crate::tui::model::{DEFAULT_BUFFER, Link, Model};
use crate::tui::msg::{Ctx, Effect, Secret, Tag, Task};
use crate::types::StartOptions;

/// The TUI started: takes the servers' start options and connects the
/// servers shown that ask for it.
pub fn started(model: &mut Model, options: Vec<(i64, StartOptions)>, fx: &mut Vec<Effect>) {
    for (key, o) in options {
        if let Some(s) = model.by_key(key) {
            s.start = o;
        }
    }
    let keys: Vec<i64> = model
        .visible_servers()
        .filter(|(_, s)| s.start.auto_connect && s.link == Link::Offline)
        .map(|(_, s)| s.key)
        .collect();
    for key in keys {
        connect(model, key, false, fx);
    }
}

/// The buffer on screen of server `key`, where its output goes.
fn buffer_of(model: &Model, key: i64) -> String {
    model
        .servers
        .iter()
        .find(|s| s.key == key)
        .and_then(|s| s.buffer().map(|b| b.name.clone()))
        .unwrap_or_else(|| DEFAULT_BUFFER.to_owned())
}

/// Connects server `key` (`noverify`: without checking its certificate).
pub fn connect(model: &mut Model, key: i64, noverify: bool, fx: &mut Vec<Effect>) {
    let generation = model.generation();
    let Some(s) = model.by_key(key) else { return };
    let Some(record) = s.record.clone() else {
        return;
    };
    s.link = Link::Connecting;
    s.generation = generation;
    let buffer = buffer_of(model, key);
    if noverify {
        model.note(
            key,
            &buffer,
            "WARNING: -noverify: the server's certificate is not checked, so anyone \
             between you and the server can read and change everything",
        );
    }
    if model.config.verbose {
        model.note(key, &buffer, "attempting to connect...");
    }
    let ctx = Ctx {
        server: key,
        buffer,
        cmd: "connect",
        tag: Tag::Connect { generation },
    };
    let task = Task::Connect {
        record,
        generation,
        noverify,
    };
    start(model, fx, ctx, task);
}

/// Logs in as `username` on the server of `ctx` with `password`. The
/// password of the account that logs in at connect is kept if the login
/// succeeds.
pub fn login(
    model: &mut Model,
    ctx: Ctx,
    username: String,
    password: Secret,
    fx: &mut Vec<Effect>,
) {
    if let Some(s) = model.by_key(ctx.server) {
        if s.link != Link::Online {
            model.set_error("not connected to a server");
            return;
        }
        s.logging_in = Some(username.clone());
        s.login_password = s
            .start
            .auto_login
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(&username))
            .then(|| password.clone());
    }
    let ctx = Ctx {
        tag: Tag::Login {
            username: username.clone(),
        },
        ..ctx
    };
    start(model, fx, ctx, Task::Login { username, password });
}

/// Server `key` just connected: logs in as its `Server.AutoLogin` account,
/// with the password kept from earlier in the run, else asking for it
/// (unless another question is open: then it says how to log in).
pub fn login_at_connect(model: &mut Model, key: i64, fx: &mut Vec<Effect>) {
    let Some(s) = model.servers.iter().find(|s| s.key == key) else {
        return;
    };
    let Some(user) = s.start.auto_login.clone() else {
        return;
    };
    if s.user.is_some() || s.logging_in.is_some() {
        return;
    }
    let server = s.name().to_owned();
    let kept = s
        .password
        .as_ref()
        .filter(|(name, _)| name.eq_ignore_ascii_case(&user))
        .map(|(_, p)| p.clone());
    let ctx = Ctx {
        server: key,
        buffer: buffer_of(model, key),
        cmd: "login",
        tag: Tag::Plain,
    };
    match kept {
        Some(password) => login(model, ctx, user, password, fx),
        None if model.popup.is_none() => {
            let title = format!("Password of {user} on {server} (to log in at connect)...");
            model.popup = Some(Prompt::popup(
                &title,
                true,
                Purpose::Password {
                    ctx,
                    action: PwAction::Login(user),
                    first: None,
                },
            ));
        }
        None => model.note(
            key,
            DEFAULT_BUFFER,
            format!("{user} logs in at connect: type /login {user} (another question was open)"),
        ),
    }
}

/// A login as `username` on server `key` ended: the password it ran with
/// is kept when it succeeded; when it failed, the one kept is forgotten.
pub fn login_ended(model: &mut Model, key: i64, username: &str, ok: bool) {
    let Some(s) = model.by_key(key) else { return };
    let tried = s.login_password.take();
    if ok {
        if let Some(password) = tried {
            s.password = Some((username.to_owned(), password));
        }
    } else if s
        .password
        .as_ref()
        .is_some_and(|(name, _)| name.eq_ignore_ascii_case(username))
    {
        s.password = None;
    }
}

/// Stores the start options of the server on screen: `option` is
/// `Server.AutoConnect` (`true`/`false`) or `Server.AutoLogin` (a username,
/// or `none`).
pub fn set(model: &mut Model, option: &str, value: &str, fx: &mut Vec<Effect>) {
    let s = model.server();
    if s.is_local() {
        model.set_error("performing action on local server");
        return;
    }
    let mut options = s.start.clone();
    let ok = match option {
        "Server.AutoConnect" => super::config_command::yes_no(value)
            .map(|b| options.auto_connect = b)
            .is_some(),
        _ => match value.to_ascii_lowercase().as_str() {
            "none" | "off" | "" => {
                options.auto_login = None;
                true
            }
            name => gochat_proto::Username::new(name)
                .map(|u| options.auto_login = Some(u.as_str().to_owned()))
                .is_ok(),
        },
    };
    if !ok {
        model.say(format!("Running set: invalid value {value:?} for {option}"));
        return;
    }
    let ctx = super::task_start::here(model, "set", Tag::Plain);
    start(model, fx, ctx, Task::SetStart(options));
}

/// The start options stored for server `key` (by `/set` in `buffer`):
/// taken, the kept password forgotten if the account changed.
pub fn stored(model: &mut Model, key: i64, buffer: &str, options: StartOptions) {
    let Some(s) = model.by_key(key) else { return };
    if s.start.auto_login != options.auto_login {
        s.password = None;
    }
    let text = format!(
        "Running set: {}: connect at start {}, log in as {}",
        s.name(),
        if options.auto_connect { "on" } else { "off" },
        options.auto_login.as_deref().unwrap_or("nobody"),
    );
    s.start = options;
    model.note(key, buffer, text);
}
