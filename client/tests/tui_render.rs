//! The TUI without a terminal: `update()` driven with keys, network events
//! and task results, and `render()` drawn on ratatui's `TestBackend`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod tui_support;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers};
use gochat_client::service::{HookEvent, UserList};
use gochat_client::tui::commands::{self, Command, ParseError, UsersQuery};
use gochat_client::tui::model::Popup;
use gochat_client::tui::model::{Focus, Link};
use gochat_client::tui::msg::Secret;
use gochat_client::tui::{Ctx, Effect, Model, Msg, Outcome, Tag, Task, render, update};
use gochat_client::{ChatMessage, ClientEvent, ServerRecord};
use gochat_proto::{AdminCommand, Hook};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tui_support::{
    DAY, WALL, answer_history, carol_logs_in, chat, ctrl, ctrl_pair, done, enter,
    is_verified_connect, key, log_in_alice, model_on_test, net, new_model, only_task, open_buffer,
    press, screen, store_numbered_messages, store_with_test_server, tasks, type_text, user,
};

/// A model connected to server `test` (its MOTD checked) and logged in as
/// alice with permission 2, with bob and carol online. (Unlike
/// [`tui_support::logged_in`], which logs alice in with permission 0.)
fn logged_in() -> Model {
    let mut m = model_on_test();
    assert_eq!(m.server().name(), "test");
    let (ctx, task) = only_task(enter(&mut m, "/connect"));
    assert!(is_verified_connect(&task), "{task:?}");
    assert_eq!(m.server().link, Link::Connecting);
    done(
        &mut m,
        ctx,
        Outcome::Connected {
            motd: "Hello there".into(),
        },
    );
    assert_eq!(m.server().link, Link::Online);
    log_in_alice(&mut m, 2, &[("alice", 2), ("bob", 0)]);
    carol_logs_in(&mut m);
    m
}

#[test]
fn start_screen_shows_local_system_buffer_and_help_hint() {
    let m = new_model();
    let s = screen(&m);
    for text in [
        "Buffers",
        "Servers",
        "1 System",
        "1   Local",
        "System Server",
        "2   test",
        "127.0.0.1:9037",
        "Welcome to gochat!",
        "to show help!",
        "Write here...",
        " > ",
    ] {
        assert!(s.contains(text), "missing {text:?} in\n{s}");
    }
    assert!(s.contains("[System] at 12:00PM: Welcome to gochat!"), "{s}");
    assert!(!s.contains("Users"), "no Users panel before login\n{s}");
}

#[test]
fn connect_login_users_panel_and_masked_password() {
    let mut m = model_on_test();
    let (ctx, _) = only_task(enter(&mut m, "/connect"));
    done(
        &mut m,
        ctx,
        Outcome::Connected {
            motd: "Hello there".into(),
        },
    );
    let s = screen(&m);
    assert!(s.contains("● test"), "connected servers are marked\n{s}");
    assert!(s.contains("successfully connected to the server"), "{s}");
    enter(&mut m, "/login alice");
    type_text(&mut m, "hunter2");
    let s = screen(&m);
    assert!(s.contains("Enter the account's password..."), "{s}");
    assert!(s.contains("*******"), "{s}");
    assert!(!s.contains("hunter2"), "the password must be masked\n{s}");
    // Esc cancels with the original's error.
    key(&mut m, KeyCode::Esc);
    assert!(m.popup.is_none());
    assert!(screen(&m).contains("Error: no text has been given!"));

    let m = logged_in();
    let s = screen(&m);
    assert!(s.contains("Users"), "{s}");
    let alice = s.find("[2] alice").expect("alice listed");
    let carol = s
        .find("[1] carol")
        .expect("carol listed with her real permission");
    let bob = s.find("[0] bob").expect("bob listed");
    assert!(alice < carol && carol < bob, "sorted by permission\n{s}");
    assert!(s.contains("(alice) > "), "{s}");
    assert!(s.contains("Logged in with permission level 2"), "{s}");
}

#[test]
fn hooks_keep_the_users_panel_current_and_show_notices() {
    let mut m = logged_in();
    let generation = m.server().generation;
    let hook = |h| Msg::Net {
        server: 1,
        generation,
        event: ClientEvent::Hook(h),
    };
    update(
        &mut m,
        hook(HookEvent::NewLogout {
            username: user("bob"),
        }),
    );
    update(
        &mut m,
        hook(HookEvent::PermsChg {
            username: user("alice"),
            permission: 1,
        }),
    );
    update(
        &mut m,
        hook(HookEvent::DupSess {
            ip: "10.0.0.7".into(),
        }),
    );
    let s = screen(&m);
    assert!(!s.contains("[0] bob"), "{s}");
    assert!(s.contains("[1] alice"), "{s}");
    assert!(
        s.contains("Your permission level in the server has changed to 1!"),
        "{s}"
    );
    assert!(
        s.contains("Someone has tried to log in with your account from") && s.contains("10.0.0.7!"),
        "{s}"
    );
    // Events of an older connection are ignored.
    update(
        &mut m,
        Msg::Net {
            server: 1,
            generation: generation + 10,
            event: ClientEvent::Hook(HookEvent::NewLogout {
                username: user("carol"),
            }),
        },
    );
    assert!(screen(&m).contains("[1] carol"));
    // Ctrl-U hides the panel.
    ctrl(&mut m, 'u');
    assert!(!screen(&m).contains("[1] carol"));
}

#[test]
fn conversation_with_history_date_separator_unread_marker_and_indentation() {
    let mut m = logged_in();
    // Buffers opened by hand (tui_ux tests the buffer a first message opens).
    m.config.auto_open = false;
    let generation = m.server().generation;
    // Two messages from bob arrive while no buffer is open: counted, bell.
    let fx = update(
        &mut m,
        Msg::Net {
            server: 1,
            generation,
            event: ClientEvent::Message(chat(3, "bob", false, WALL - 60, "are you there?")),
        },
    );
    assert!(fx.contains(&Effect::Bell));
    update(
        &mut m,
        Msg::Net {
            server: 1,
            generation,
            event: ClientEvent::Message(chat(
                4,
                "bob",
                false,
                WALL - 30,
                "first line\nsecond line",
            )),
        },
    );
    let s = screen(&m);
    assert!(s.contains(" bob: 2"), "notification bar\n{s}");

    // Open bob's buffer from the buffer list.
    ctrl(&mut m, 'k');
    assert_eq!(m.focus, Focus::Buffers);
    ctrl(&mut m, 'n');
    let (ctx, task) = only_task(enter(&mut m, "Bob"));
    assert_eq!(task, Task::Open { peer: "bob".into() });
    let (ctx, task) = only_task(done(&mut m, ctx, Outcome::Done));
    assert_eq!(
        task,
        Task::History {
            account: "alice".into(),
            peer: "bob".into(),
            before: None,
            limit: 200
        }
    );
    // The store's page, newest first.
    let page = vec![
        chat(4, "bob", false, WALL - 30, "first line\nsecond line"),
        chat(3, "bob", false, WALL - 60, "are you there?"),
        chat(2, "bob", true, WALL - DAY, "see you tomorrow"),
        chat(1, "bob", false, WALL - DAY - 60, "hi alice"),
    ];
    done(&mut m, ctx, Outcome::History(page));
    let s = screen(&m);
    let lines: Vec<&str> = s.lines().collect();
    let find = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in\n{s}"))
    };
    let yesterday = find("--- 2024-02-29 ---");
    // Messages not from today have their date beside the time.
    let hi = find("[bob] at 2024-02-29 11:59AM: hi alice");
    let you = find("[You] at 2024-02-29 12:00PM: see you tomorrow");
    let today = find("--- 2024-03-01 ---");
    let unread = find("--- UNREAD ---");
    let there = find("[bob] at 11:59AM: are you there?");
    let first = find("[bob] at 11:59AM: first line");
    let second = find("second line");
    assert!(
        yesterday < hi
            && hi < you
            && you < today
            && today < unread
            && unread < there
            && there < first
            && first + 1 == second,
        "{s}"
    );
    // The continuation line is indented under the text.
    let col_first = lines[first].find("first line").unwrap();
    let col_second = lines[second].find("second line").unwrap();
    assert_eq!(col_first, col_second, "{s}");
    assert!(
        !s.contains(" bob: 2"),
        "count cleared once the buffer is open\n{s}"
    );

    // Sending: echoed at once, replaced by the stored message.
    let (ctx, task) = only_task(enter(&mut m, "hello bob"));
    assert_eq!(
        task,
        Task::Send {
            to: "bob".into(),
            text: "hello bob".into()
        }
    );
    assert!(screen(&m).contains("[You] at 12:00PM: hello bob"));
    done(
        &mut m,
        ctx,
        Outcome::Sent(vec![chat(5, "bob", true, WALL, "hello bob")]),
    );
    assert_eq!(screen(&m).matches("hello bob").count(), 1);
    // A message for the buffer in view rings no bell and is not counted.
    let fx = update(
        &mut m,
        Msg::Net {
            server: 1,
            generation,
            event: ClientEvent::Message(chat(6, "bob", false, WALL, "hi!")),
        },
    );
    assert!(!fx.contains(&Effect::Bell));
    assert!(screen(&m).contains("[bob] at 12:00PM: hi!"));
}

#[test]
fn scrolling_up_loads_older_pages() {
    let mut m = logged_in();
    m.config.bell = false;
    ctrl(&mut m, 'g');
    enter(&mut m, "bob");
    // Not a buffer yet: the switcher refuses it.
    assert!(m.popup.is_none());
    let mut fx = enter(&mut m, "/msg bob hey");
    let t = tasks(std::mem::take(&mut fx));
    assert!(
        matches!(&t[0].1, Task::Open { peer } if peer == "bob"),
        "{t:?}"
    );
    assert!(
        matches!(&t[1].1, Task::Send { to, text } if to == "bob" && text == "hey"),
        "{t:?}"
    );
    let (ctx, _) = only_task(done(&mut m, t[0].0.clone(), Outcome::Done));
    let page: Vec<ChatMessage> = (0..200)
        .rev()
        .map(|i| {
            chat(
                1000 + i,
                "bob",
                false,
                WALL - 3600 + i,
                &format!("message {i}"),
            )
        })
        .collect();
    done(&mut m, ctx, Outcome::History(page));
    assert!(screen(&m).contains("message 199"));
    let mut older = None;
    for _ in 0..40 {
        if let Some(t) = tasks(key(&mut m, KeyCode::PageUp))
            .into_iter()
            .find(|(_, t)| matches!(t, Task::History { .. }))
        {
            older = Some(t);
            break;
        }
    }
    let (_, task) = older.expect("reaching the top asks for the next page");
    assert_eq!(
        task,
        Task::History {
            account: "alice".into(),
            peer: "bob".into(),
            before: Some(1000),
            limit: 200
        }
    );
    assert!(screen(&m).contains("message 0"));
}

#[test]
fn help_page_lists_every_command_and_key() {
    let mut m = new_model();
    key(&mut m, KeyCode::F(1));
    assert!(m.help);
    let s = screen(&m);
    assert!(
        s.contains("Help (Esc to close)") && s.contains("Ctrl-Q"),
        "{s}"
    );
    assert!(!s.contains("Write here..."), "the input hides under help");
    let text: String = gochat_client::tui::help::lines()
        .iter()
        .map(|l| l.to_string() + "\n")
        .collect();
    for (name, _, _) in commands::COMMANDS {
        assert!(
            text.contains(&format!("/{name}")),
            "/{name} missing from help"
        );
    }
    for k in [
        "Ctrl-Q",
        "Ctrl-B",
        "Ctrl-U",
        "Ctrl-T",
        "Ctrl-S",
        "Ctrl-K",
        "Ctrl-G",
        "Ctrl-N",
        "Ctrl-W",
        "Ctrl-X",
        "Alt-Up",
        "Shift-Up",
        "Ctrl-Alt-L",
        "Ctrl-Shift-L",
        "Shift-Enter",
        "Alt-Enter",
        "PgUp",
        "F1",
        "Ctrl-F",
        "Alt-M",
        "Ctrl-Z",
        "Alt-B",
        "Tab, Shift-Tab",
    ] {
        assert!(text.contains(k), "{k} missing from help");
    }
    assert_eq!(
        commands::COMMANDS.len(),
        22,
        "the 19 original commands plus /msg, /search and /help"
    );
    key(&mut m, KeyCode::Esc);
    assert!(!m.help);
    press(
        &mut m,
        KeyCode::Char('l'),
        KeyModifiers::CONTROL | KeyModifiers::ALT,
    );
    assert!(m.help);
    press(
        &mut m,
        KeyCode::Char('L'),
        KeyModifiers::CONTROL | KeyModifiers::SHIFT,
    );
    assert!(!m.help);
    ctrl(&mut m, 'l');
    assert!(!m.help, "plain Ctrl-L does nothing");
    enter(&mut m, "/help");
    assert!(m.help);
}

#[test]
fn error_bar_shows_then_goes_away() {
    let mut m = new_model();
    enter(&mut m, "/nonsense");
    let s = screen(&m);
    assert!(s.contains(" Error: invalid command given!"), "{s}");
    assert!(m.next_tick().is_some(), "a tick is due to clear it");
    m.now += Duration::from_secs(4);
    update(&mut m, Msg::Tick);
    assert!(!screen(&m).contains("Error:"));
    assert!(m.next_tick().is_none(), "idle: no tick");
    enter(&mut m, "/");
    assert!(screen(&m).contains("Error: empty command given!"));
    enter(&mut m, "/login");
    assert!(screen(&m).contains("Running login: invalid number of arguments: /login <username>"));
    enter(&mut m, "/connect");
    assert!(screen(&m).contains("Error: performing action on local server!"));
    enter(&mut m, "typed into System");
    assert!(screen(&m).contains("Error: performing action on system buffer!"));
}

#[test]
fn keys_of_the_original() {
    let mut m = new_model();
    assert_eq!(ctrl(&mut m, 'q'), vec![Effect::Quit]);
    assert!(ctrl(&mut m, 'c').is_empty());
    ctrl(&mut m, 'b');
    assert!(!screen(&m).contains("Buffers"));
    ctrl(&mut m, 'b');
    assert!(screen(&m).contains("Buffers"));
    ctrl(&mut m, 't');
    assert_eq!(m.focus, Focus::Messages);
    ctrl(&mut m, 't');
    assert_eq!(m.focus, Focus::Input);
    ctrl(&mut m, 's');
    assert_eq!(m.focus, Focus::Servers);
    key(&mut m, KeyCode::Esc);
    assert_eq!(m.focus, Focus::Input);

    // Scratch buffers on Local; Backspace never hides one, Ctrl-W does.
    open_buffer(&mut m, "notes");
    assert_eq!(m.server().buffer().unwrap().name, "notes");
    ctrl(&mut m, 'k');
    key(&mut m, KeyCode::Backspace);
    ctrl(&mut m, 'h');
    assert!(screen(&m).contains("2 notes"));
    key(&mut m, KeyCode::Esc);
    enter(&mut m, "kept in memory");
    assert!(screen(&m).contains("[You] at 12:00PM: kept in memory"));
    press(&mut m, KeyCode::Up, KeyModifiers::ALT);
    assert_eq!(m.server().buffer().unwrap().name, "System");
    press(&mut m, KeyCode::Down, KeyModifiers::ALT);
    assert_eq!(m.server().buffer().unwrap().name, "notes");
    ctrl_pair(&mut m, 'k', 'w');
    assert!(!screen(&m).contains("2 notes"));
    // The quick switcher finds hidden buffers by prefix, Tab completes.
    key(&mut m, KeyCode::Esc);
    ctrl(&mut m, 'g');
    type_text(&mut m, "NO");
    key(&mut m, KeyCode::Tab);
    assert!(screen(&m).contains("Go to..."));
    key(&mut m, KeyCode::Enter);
    assert_eq!(m.server().buffer().unwrap().name, "notes");
    assert!(!m.server().buffer().unwrap().hidden);

    // Shift/Alt-Enter insert a newline; Up walks the command history.
    type_text(&mut m, "a");
    press(&mut m, KeyCode::Enter, KeyModifiers::SHIFT);
    type_text(&mut m, "b");
    press(&mut m, KeyCode::Enter, KeyModifiers::ALT);
    assert_eq!(m.input.text(), "a\nb\n");
    key(&mut m, KeyCode::Esc);
    enter(&mut m, "/version");
    enter(&mut m, "/buffers");
    // A command repeated at once is remembered once.
    enter(&mut m, "/buffers");
    assert_eq!(m.history, ["/version", "/buffers"]);
    key(&mut m, KeyCode::Up);
    assert_eq!(m.input.text(), "/buffers");
    key(&mut m, KeyCode::Up);
    assert_eq!(m.input.text(), "/version");
    key(&mut m, KeyCode::Down);
    key(&mut m, KeyCode::Down);
    assert!(m.input.is_empty());
    assert!(screen(&m).contains("* Protocol version: v1"));

    // Shift-Up/Down change servers; Ctrl-R asks for a redraw.
    press(&mut m, KeyCode::Down, KeyModifiers::SHIFT);
    assert_eq!(m.server().name(), "test");
    press(&mut m, KeyCode::Up, KeyModifiers::SHIFT);
    assert_eq!(m.server().name(), "Local");
    assert_eq!(ctrl(&mut m, 'r'), vec![Effect::Redraw]);
    // Resizing changes the layout.
    update(&mut m, Msg::Resize(60, 20));
    assert_eq!(screen(&m).lines().count(), 20);
}

#[test]
fn slash_command_parsing() {
    let p = |l: &str| commands::parse(l, WALL);
    assert_eq!(p("/version"), Ok(Command::Version));
    assert_eq!(p("/VERSION"), Ok(Command::Version));
    assert_eq!(p("/"), Err(ParseError::Empty));
    assert_eq!(
        p("/frobnicate"),
        Err(ParseError::Unknown("frobnicate".into()))
    );
    assert_eq!(p("/login"), Err(ParseError::Usage("login", "<username>")));
    assert_eq!(p("/login alice"), Ok(Command::Login("alice".into())));
    assert_eq!(
        p("/connect -noidle -noverify"),
        Ok(Command::Connect { noverify: true })
    );
    assert_eq!(
        p("/users remote online -perms"),
        Ok(Command::Users(UsersQuery::RemoteOnline { perms: true }))
    );
    assert_eq!(
        p("/users local all"),
        Ok(Command::Users(UsersQuery::LocalAll))
    );
    assert!(matches!(
        p("/users sideways all"),
        Err(ParseError::Invalid("users", _))
    ));
    assert_eq!(
        p("/set TUI.Buflist.Size 3"),
        Ok(Command::Set {
            option: "TUI.Buflist.Size".into(),
            value: "3".into()
        })
    );
    assert_eq!(
        p("/import alice /tmp/my keys/alice.pem"),
        Ok(Command::Import {
            username: "alice".into(),
            path: "/tmp/my keys/alice.pem".into()
        })
    );
    assert_eq!(
        p("/recover bob -cleanup"),
        Ok(Command::Recover {
            username: "bob".into(),
            cleanup: true
        })
    );
    assert_eq!(
        p("/subscribe new_login"),
        Ok(Command::Subscribe(Hook::NewLogin))
    );
    assert_eq!(p("/unsubscribe all"), Ok(Command::Unsubscribe(Hook::All)));
    assert!(matches!(
        p("/subscribe nothing"),
        Err(ParseError::Invalid(..))
    ));
    assert_eq!(
        p("/admin shutdown 5"),
        Ok(Command::Admin(AdminCommand::Shutdown { stamp: WALL + 300 }))
    );
    assert_eq!(
        p("/admin kick Bob"),
        Ok(Command::Admin(AdminCommand::Kick {
            username: user("bob")
        }))
    );
    assert_eq!(
        p("/admin setperms bob 1"),
        Ok(Command::Admin(AdminCommand::ChangePerms {
            username: user("bob"),
            permission: 1
        }))
    );
    assert_eq!(
        p("/admin broadcast hello   all"),
        Ok(Command::Admin(AdminCommand::Broadcast {
            text: "hello   all".into()
        }))
    );
    assert!(matches!(
        p("/admin explode now"),
        Err(ParseError::Invalid(..))
    ));
    assert_eq!(
        p("/msg bob hi  there"),
        Ok(Command::Msg {
            to: "bob".into(),
            text: "hi  there".into()
        })
    );
    assert_eq!(
        p("/msg bob"),
        Err(ParseError::Usage("msg", "<user> <text>"))
    );
    for (name, _, _) in commands::COMMANDS {
        let r = p(&format!("/{name}"));
        assert!(!matches!(r, Err(ParseError::Unknown(_))), "/{name}: {r:?}");
    }
}

#[test]
fn commands_check_their_server_and_ask_for_passwords() {
    let mut m = logged_in();
    assert!(enter(&mut m, "/register bob").is_empty());
    assert!(screen(&m).contains("Error: you are already logged in!"));
    let (_, task) = only_task(enter(&mut m, "/users remote all -perms"));
    assert_eq!(task, Task::Users(UserList::AllPerms));
    let (_, task) = only_task(enter(&mut m, "/subscribe permissions_change"));
    assert_eq!(task, Task::Subscribe(Hook::PermsChg));
    // Import asks for the password twice.
    enter(&mut m, "/import dave /keys/dave.pem");
    assert!(enter(&mut m, "pw").is_empty());
    assert!(screen(&m).contains("Repeat your password..."));
    let (_, task) = only_task(enter(&mut m, "pw"));
    assert_eq!(
        task,
        Task::Import {
            username: "dave".into(),
            path: "/keys/dave.pem".into(),
            password: Secret("pw".into())
        }
    );
    // Mismatched repeats are refused.
    enter(&mut m, "/export alice");
    key(&mut m, KeyCode::Enter);
    assert!(m.popup.is_some(), "an empty password keeps the popup open");
    let (_, task) = only_task(enter(&mut m, "x"));
    assert_eq!(
        task,
        Task::Export {
            username: "alice".into(),
            password: Secret("x".into())
        }
    );
    // Logout ends the session: conversations close, the panel goes.
    let (ctx, task) = only_task(enter(&mut m, "/logout"));
    assert_eq!(task, Task::Logout);
    done(&mut m, ctx, Outcome::Done);
    let s = screen(&m);
    assert!(
        s.contains("logged out") && !s.contains("[2] alice") && s.contains(" > "),
        "{s}"
    );
    // Disconnection is reported and the server is no longer marked.
    net(
        &mut m,
        ClientEvent::Disconnected {
            reason: "server closed the connection".into(),
        },
    );
    let s = screen(&m);
    assert!(
        s.contains("You are no longer connected to this server!") && !s.contains("● test"),
        "{s}"
    );
    let (ctx, _) = only_task(enter(&mut m, "/connect"));
    let fx = update(
        &mut m,
        Msg::Done {
            ctx: Ctx {
                tag: Tag::Connect { generation: 999 },
                ..ctx
            },
            result: Ok(Outcome::Connected {
                motd: String::new(),
            }),
        },
    );
    assert!(
        matches!(&tasks(fx)[..], [(_, Task::Disconnect)]),
        "a stale connection is closed"
    );
}

#[test]
fn opening_a_conversation_with_100k_messages_shows_the_newest_page() {
    use gochat_client::service::Service;
    use gochat_runtime::Runtime;
    let rt = gochat_runtime_smol::SmolRuntime::with_threads(1).unwrap();
    let dir = std::env::temp_dir().join(format!("gochat_tui_perf_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("client.db");
    let _ = std::fs::remove_file(&path);
    rt.block_on(async {
        let store = store_with_test_server(&path).await;
        store_numbered_messages(&store, 100_000).await;
        let service = Service::new(store);
        let mut m = logged_in();
        let (ctx, _) = only_task(open_buffer(&mut m, "bob"));
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();

        let (ctx, task) = only_task(done(&mut m, ctx, Outcome::Done));
        answer_history(&mut m, &service, ctx, task).await;
        terminal.draw(|f| render(&m, f)).unwrap();

        let buf = terminal.backend().buffer().clone();
        let text: String = (0..40)
            .flat_map(|y| (0..120).map(move |x| (x, y)))
            .map(|p| buf[p].symbol().to_owned())
            .collect();
        assert!(
            text.contains("message number 99999"),
            "the newest message is on the first screen"
        );
        // The speed of this path is a benchmark's business, not a test's.
        service.store().close().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connect_without_verification_warns() {
    let mut m = model_on_test();
    let (_, task) = only_task(enter(&mut m, "/connect -noverify"));
    assert!(
        matches!(task, Task::Connect { noverify: true, .. }),
        "{task:?}"
    );
    let s = screen(&m);
    assert!(s.contains("WARNING: -noverify"), "{s}");
}

#[test]
fn a_message_refused_for_typing_too_fast_stays_in_the_input() {
    let mut m = logged_in();
    m.config.bell = false;
    let fx = enter(&mut m, "/msg bob hey");
    assert!(
        tasks(fx)
            .iter()
            .any(|(_, t)| matches!(t, Task::Send { text, .. } if text == "hey"))
    );
    // At once again: refused, and kept for Enter once the delay has passed.
    let fx = enter(&mut m, "second thought");
    assert!(tasks(fx).is_empty());
    assert!(screen(&m).contains("Error: you are typing too fast!"));
    assert_eq!(m.input.text(), "second thought");
    // A line sent with a leading slash comes back as typed.
    m.input.take();
    enter(&mut m, "//slash");
    assert_eq!(m.input.text(), "//slash");
    m.now += Duration::from_secs(2);
    let fx = key(&mut m, KeyCode::Enter);
    assert!(
        tasks(fx)
            .iter()
            .any(|(_, t)| matches!(t, Task::Send { text, .. } if text == "/slash"))
    );
    assert!(m.input.is_empty());
}

/// After a popup closed: it is gone, the input has the focus, and typing
/// `1 x` goes into the input (not to a list as a shortcut) on the same
/// server and buffer.
fn assert_typing_reaches_the_input(m: &mut Model, what: &str) {
    assert!(m.popup.is_none(), "{what}: the popup is still open");
    assert_eq!(m.focus, Focus::Input, "{what}");
    let here = m.here();
    type_text(m, "1 x");
    assert_eq!(m.input.text(), "1 x", "{what}");
    assert_eq!(m.here(), here, "{what}: typing switched buffer or server");
    let s = screen(m);
    assert!(s.contains(" > 1 x"), "{what}: not in the input box\n{s}");
    m.input.take();
}

#[test]
fn closing_a_popup_gives_the_focus_back_to_the_input() {
    // The first case: Ctrl-K, Ctrl-N, Esc, then `1 more thing`
    // (from a scratch buffer, so that a jump to buffer 1 would show).
    let mut m = new_model();
    open_buffer(&mut m, "notes");
    assert_eq!(m.server().buffer().unwrap().name, "notes");
    ctrl_pair(&mut m, 'k', 'n');
    assert!(screen(&m).contains("Enter buffer name..."));
    key(&mut m, KeyCode::Esc);
    type_text(&mut m, "1 more thing");
    assert_eq!(m.input.text(), "1 more thing");
    assert_eq!(m.server().buffer().unwrap().name, "notes");
    assert!(screen(&m).contains(" > 1 more thing"));
    m.input.take();

    // The second: Ctrl-S, Ctrl-X, Esc, then `1 hello` on a remote server.
    press(&mut m, KeyCode::Down, KeyModifiers::SHIFT);
    ctrl_pair(&mut m, 's', 'x');
    assert!(screen(&m).contains("delete this server?"));
    key(&mut m, KeyCode::Esc);
    type_text(&mut m, "1 hello");
    assert_eq!(m.input.text(), "1 hello");
    assert_eq!(m.server().name(), "test");
    m.input.take();

    // Every popup, closed every way, from the list it is opened from.
    let mut m = new_model();
    open_buffer(&mut m, "notes");
    assert_typing_reaches_the_input(&mut m, "new buffer, Enter");
    open_buffer(&mut m, "notes");
    assert_typing_reaches_the_input(&mut m, "new buffer naming an open one");
    for close in [
        KeyCode::Esc,
        KeyCode::Char('n'),
        KeyCode::Enter,
        KeyCode::Char('x'),
    ] {
        ctrl_pair(&mut m, 'k', 'x');
        assert!(m.popup.is_some(), "delete-buffer confirm opens");
        if close == KeyCode::Char('x') {
            // A key the confirm ignores keeps it open; Esc then closes it.
            key(&mut m, close);
            assert!(m.popup.is_some());
            key(&mut m, KeyCode::Esc);
        } else {
            key(&mut m, close);
        }
        assert_typing_reaches_the_input(&mut m, &format!("delete buffer, {close:?}"));
    }
    ctrl_pair(&mut m, 'k', 'x');
    key(&mut m, KeyCode::Char('y'));
    assert_typing_reaches_the_input(&mut m, "delete buffer, y");
    assert!(m.server().find("notes").is_none(), "y deleted it");

    // The quick switcher from either list: Esc, a match, no match.
    for (list, line, what) in [
        ('k', None, "quick switcher from the list, Esc"),
        ('s', Some("sys"), "quick switcher, Enter"),
        ('k', Some("nothing like it"), "quick switcher, no match"),
    ] {
        ctrl_pair(&mut m, list, 'g');
        match line {
            Some(line) => enter(&mut m, line),
            None => key(&mut m, KeyCode::Esc),
        };
        assert_typing_reaches_the_input(&mut m, what);
    }

    ctrl_pair(&mut m, 's', 'n');
    key(&mut m, KeyCode::Esc);
    assert_typing_reaches_the_input(&mut m, "new server, Esc");
    ctrl_pair(&mut m, 's', 'n');
    enter(&mut m, "test");
    assert_typing_reaches_the_input(&mut m, "new server naming a stored one");
    assert_eq!(m.server().name(), "test");
    ctrl_pair(&mut m, 's', 'n');
    enter(&mut m, "other");
    assert!(screen(&m).contains("Enter server address and port"));
    key(&mut m, KeyCode::Esc);
    assert_typing_reaches_the_input(&mut m, "new server address, Esc");
    for close in [KeyCode::Esc, KeyCode::Char('n'), KeyCode::Enter] {
        ctrl_pair(&mut m, 's', 'x');
        assert!(m.popup.is_some(), "delete-server confirm opens");
        key(&mut m, close);
        assert_typing_reaches_the_input(&mut m, &format!("delete server, {close:?}"));
        assert_eq!(m.server().name(), "test", "not deleted");
    }

    // The help page, opened from a list, gives the keys back too.
    ctrl(&mut m, 'k');
    key(&mut m, KeyCode::F(1));
    key(&mut m, KeyCode::Esc);
    assert_typing_reaches_the_input(&mut m, "help page, Esc");
    ctrl(&mut m, 's');
    key(&mut m, KeyCode::F(1));
    key(&mut m, KeyCode::F(1));
    assert_typing_reaches_the_input(&mut m, "help page, F1");

    // A password prompt (opened from the input) closes back to it.
    let mut m = logged_in();
    enter(&mut m, "/export alice");
    key(&mut m, KeyCode::Esc);
    assert_typing_reaches_the_input(&mut m, "password, Esc");
}

/// The screen of `model` at `width` x `height`.
fn screen_at(model: &mut Model, width: u16, height: u16) -> String {
    update(model, Msg::Resize(width, height));
    screen(model)
}

#[test]
fn delete_confirms_show_their_whole_text_and_what_enter_answers() {
    let mut m = model_on_test();
    ctrl_pair(&mut m, 's', 'x');
    let Some(Popup::Confirm(c)) = &m.popup else {
        panic!("no confirm: {:?}", m.popup)
    };
    assert!(!c.yes, "opens on No");
    assert_eq!(c.hint(), "Enter = No, y = Yes, n/Esc = No, Tab = switch");
    let s = screen(&m);
    for line in [
        "Do you want to permanently",
        "delete this server?",
        "All information about this server will be lost!",
        "> No <",
        "Yes",
        "Enter = No, y = Yes, n/Esc = No, Tab = switch",
    ] {
        assert!(s.contains(line), "missing {line:?} in\n{s}");
    }
    // Tab moves the highlight, and the hint follows it.
    key(&mut m, KeyCode::Tab);
    let s = screen(&m);
    assert!(s.contains("> Yes <") && s.contains("Enter = Yes,"), "{s}");
    key(&mut m, KeyCode::Tab);
    // Enter on No closes it and deletes nothing.
    assert!(tasks(key(&mut m, KeyCode::Enter)).is_empty());
    assert!(m.popup.is_none());
    assert_eq!(m.server().name(), "test");
    // n says no; y says yes at once, whatever is highlighted.
    ctrl_pair(&mut m, 's', 'x');
    assert!(tasks(key(&mut m, KeyCode::Char('n'))).is_empty());
    assert!(m.popup.is_none());
    ctrl_pair(&mut m, 's', 'x');
    let t = tasks(key(&mut m, KeyCode::Char('y')));
    assert!(
        t.iter()
            .any(|(_, t)| matches!(t, Task::DeleteServer { name } if name == "test")),
        "{t:?}"
    );

    // On a narrow screen the text wraps instead of being cut.
    let mut m = model_on_test();
    ctrl_pair(&mut m, 's', 'x');
    let s = screen_at(&mut m, 36, 20);
    // Whole words on each row; the hint keeps each `key = answer` whole.
    let rows: Vec<String> = s
        .lines()
        .filter_map(|l| l.split_once('│').map(|(_, r)| r))
        .filter_map(|r| r.rsplit_once('│').map(|(r, _)| r.trim().to_owned()))
        .collect();
    for item in ["Enter = No", "y = Yes", "n/Esc = No", "Tab = switch"] {
        assert!(
            rows.iter().any(|r| r.contains(item)),
            "{item:?} cut in
{s}"
        );
    }
    let text = rows.join(" ");
    for line in [
        "All information about this server",
        "will be lost!",
        "Enter = No, y = Yes, n/Esc = No, Tab = switch",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{s}");
    }
    // A screen too small for it draws what fits, without panicking.
    for (w, h) in [(1, 1), (8, 3), (20, 5)] {
        screen_at(&mut m, w, h);
    }

    // The delete-buffer confirm has the same hint and keys.
    let mut m = new_model();
    open_buffer(&mut m, "notes");
    ctrl_pair(&mut m, 'k', 'x');
    let s = screen(&m);
    assert!(
        s.contains("delete this buffer?") && s.contains("Enter = No, y = Yes, n/Esc = No"),
        "{s}"
    );
    key(&mut m, KeyCode::Enter);
    assert!(m.server().find("notes").is_some(), "Enter on No keeps it");
    ctrl_pair(&mut m, 'k', 'x');
    key(&mut m, KeyCode::Char('Y'));
    assert!(m.server().find("notes").is_none(), "Y deletes it");
}

/// The rows of the input box's text (right of the ` > ` label) on the
/// screen of `model`, without trailing spaces.
fn input_box_rows(model: &Model) -> Vec<String> {
    use gochat_client::tui::model::layout::areas;
    use ratatui::layout::Rect;
    let (w, h) = model.size;
    let area = areas(model, Rect::new(0, 0, w, h)).input.unwrap();
    let s = screen(model);
    let lines: Vec<Vec<char>> = s.lines().map(|l| l.chars().collect()).collect();
    let label = 3;
    (area.y + 1..area.y + area.height)
        .map(|y| {
            let row = &lines[usize::from(y)];
            let from = usize::from(area.x) + label;
            let to = usize::from(area.x + area.width).min(row.len());
            row[from..to]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect()
}

#[test]
fn the_input_box_wraps_at_word_boundaries() {
    let mut m = new_model();
    update(&mut m, Msg::Resize(60, 20));
    open_buffer(&mut m, "notes");
    let text = "gochat keeps every word of a long line whole when the input box wraps it";
    type_text(&mut m, text);
    let rows = input_box_rows(&m);
    let shown: Vec<&str> = rows
        .iter()
        .filter(|r| !r.is_empty())
        .map(String::as_str)
        .collect();
    assert!(shown.len() >= 2, "the text wraps: {rows:?}");
    assert_eq!(
        shown.join(" "),
        text,
        "every row holds whole words: {rows:?}"
    );
    let s = screen(&m);
    assert!(s.contains(" > gochat keeps"), "{s}");

    // A word longer than a row is still cut where the row is full.
    m.input.take();
    let long = "x".repeat(70);
    type_text(&mut m, &long);
    let rows = input_box_rows(&m);
    assert_eq!(rows.concat(), long, "{rows:?}");
}

#[test]
fn adding_a_server_asks_about_tls_and_shows_the_choice() {
    let mut m = new_model();
    ctrl_pair(&mut m, 's', 'n');
    enter(&mut m, "plain");
    let s = screen(&m);
    assert!(
        s.contains("Enter server address and port as 'address:port':")
            && s.contains("TLS: on (Tab turns it off, for a plain TCP server)"),
        "the toggle shows, on as in the original\n{s}"
    );
    type_text(&mut m, "127.0.0.1:9999");
    key(&mut m, KeyCode::Tab);
    let s = screen(&m);
    assert!(s.contains("TLS: off, plain TCP (Tab turns it on)"), "{s}");
    assert!(s.contains("127.0.0.1:9999"), "the address stays typed\n{s}");
    let (ctx, task) = only_task(key(&mut m, KeyCode::Enter));
    assert_eq!(
        task,
        Task::AddServer {
            name: "plain".into(),
            address: "127.0.0.1".into(),
            port: 9999,
            tls: false
        }
    );
    let plain = ServerRecord {
        id: 2,
        name: "plain".into(),
        address: "127.0.0.1".into(),
        port: 9999,
        tls: false,
    };
    done(&mut m, ctx, Outcome::Server(plain));
    assert_eq!(m.server().name(), "plain");
    let s = screen(&m);
    assert!(
        s.contains("Server plain added: 127.0.0.1:9999, TLS off (plain TCP).")
            && s.contains("/set Server.TLS true turns it on"),
        "{s}"
    );
    assert!(s.contains("TCP 127.0.0.1:9999"), "{s}");

    // Left as it opens, the toggle adds a TLS server, marked in the list
    // before its address (a narrow list cuts the port, not the mark).
    ctrl_pair(&mut m, 's', 'n');
    enter(&mut m, "secure");
    let (ctx, task) = only_task(enter(&mut m, "chat.example.org:8037"));
    assert!(
        matches!(task, Task::AddServer { tls: true, .. }),
        "{task:?}"
    );
    let secure = ServerRecord {
        id: 3,
        name: "secure".into(),
        address: "chat.example.org".into(),
        port: 8037,
        tls: true,
    };
    done(&mut m, ctx, Outcome::Server(secure));
    let s = screen(&m);
    assert!(
        s.contains("TLS chat.example.org")
            && s.contains("TLS on.")
            && s.contains("/set Server.TLS false turns it off"),
        "{s}"
    );

    // A wrong or taken address keeps the popup open, toggle and all.
    ctrl_pair(&mut m, 's', 'n');
    enter(&mut m, "third");
    key(&mut m, KeyCode::Tab);
    assert!(tasks(enter(&mut m, "no port here")).is_empty());
    let s = screen(&m);
    assert!(
        s.contains("Error: address of server is not valid!") && s.contains("TLS: off, plain TCP"),
        "{s}"
    );
    for _ in 0.."no port here".len() {
        key(&mut m, KeyCode::Backspace);
    }
    assert!(tasks(enter(&mut m, "127.0.0.1:9999")).is_empty());
    assert!(screen(&m).contains("Error: item already exists!"));
    assert!(m.popup.is_some());
    key(&mut m, KeyCode::Esc);
    assert!(m.popup.is_none());
    assert_eq!(m.focus, Focus::Input);
}
