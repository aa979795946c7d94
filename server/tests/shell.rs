//! The admin database shell against a temporary SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gochat_server::shell::{
    self, COMPLETED, OWNER_WARNING, ShellError, ShellOutcome, database_location, prompt,
};
use gochat_server::store::{CreateUserError, Store, StoreError};
use gochat_testkit::ScratchDb;

/// A store on a fresh SQLite file (removed when the returned guard drops)
/// and its URL.
async fn temp_store() -> (Store, String, ScratchDb) {
    let scratch = ScratchDb::sqlite();
    let url = scratch.url().to_string();
    let store = Store::open(&url).await.unwrap();
    (store, url, scratch)
}

async fn add_user(store: &Store, name: &str, seed: u8) -> i64 {
    let created = store
        .create_user(name, &format!("PEM of {name}"), &[seed; 32])
        .await;
    match created {
        Ok(id) => id,
        // sqlx 0.9's Any driver reports no insert id for SQLite although the row
        // was inserted; these tests are about the shell, so read the id back.
        Err(CreateUserError::Store(StoreError::Unexpected { .. })) => {
            store.user(name).await.unwrap().unwrap().id
        }
        Err(e) => panic!("cannot create {name}: {e}"),
    }
}

/// Caches a message, tolerating the missing insert id (see [`add_user`]).
async fn cache_message(store: &Store, src: i64, dst: i64, stamp: i64, text: &[u8]) {
    match store.store_message(src, dst, stamp, text).await {
        Ok(_) | Err(StoreError::Unexpected { .. }) => {}
        Err(e) => panic!("cannot cache a message: {e}"),
    }
}

async fn command(store: &Store, line: &str) -> (ShellOutcome, String) {
    let mut out = Vec::new();
    let outcome = shell::run_command(store, line, &mut out).await;
    (outcome, String::from_utf8(out).unwrap())
}

/// Runs the shell on `store` (at `url`) with `input`, as a terminal when
/// `interactive`; its output.
async fn script(store: &Store, url: &str, input: &[u8], interactive: bool) -> String {
    let mut out = Vec::new();
    shell::run(store, url, input, &mut out, interactive)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

async fn permission(store: &Store, name: &str) -> i64 {
    store.user(name).await.unwrap().unwrap().permission
}

#[test]
fn setowner_sets_permission_two() {
    async_io::block_on(async {
        let (store, _, _db) = temp_store().await;
        add_user(&store, "alice", 1).await;
        assert_eq!(permission(&store, "alice").await, 0);
        let (outcome, out) = command(&store, "SETOWNER alice\n").await;
        assert!(matches!(outcome, ShellOutcome::Completed), "{outcome:?}");
        assert_eq!(out, format!("{OWNER_WARNING}\n{COMPLETED}\n"));
        assert_eq!(permission(&store, "alice").await, 2);
    });
}

#[test]
fn commands_are_case_insensitive_and_usernames_lowercased() {
    async_io::block_on(async {
        let (store, _, _db) = temp_store().await;
        add_user(&store, "bob", 2).await;
        let (outcome, _) = command(&store, "  setOwner   BOB  ").await;
        assert!(matches!(outcome, ShellOutcome::Completed), "{outcome:?}");
        assert_eq!(permission(&store, "bob").await, 2);
        let (outcome, out) = command(&store, "help").await;
        assert!(matches!(outcome, ShellOutcome::Completed));
        assert!(out.contains("SETOWNER <username>"), "{out}");
        let (outcome, _) = command(&store, "Exit").await;
        assert!(matches!(outcome, ShellOutcome::Exit));
    });
}

#[test]
fn errors_use_the_original_wording() {
    async_io::block_on(async {
        let (store, _, _db) = temp_store().await;
        let cases = [
            ("SETOWNER nobody", "user not found"),
            ("CLEARCACHE nobody", "user not found"),
            ("SETOWNER", "too few arguments given"),
            ("CLEARCACHE", "too few arguments given"),
            ("SETOWNER a b", "too many arguments given"),
            ("DROP TABLE users", "invalid command given"),
        ];
        for (line, message) in cases {
            let (outcome, out) = command(&store, line).await;
            assert!(
                matches!(outcome, ShellOutcome::Failed(_)),
                "{line}: {outcome:?}"
            );
            assert_eq!(out, format!("[X] Problem occurred: {message}\n"), "{line}");
        }
        let (outcome, _) = command(&store, "SETOWNER ghost").await;
        assert!(matches!(
            outcome,
            ShellOutcome::Failed(ShellError::UserNotFound)
        ));
        let (outcome, out) = command(&store, "   \n").await;
        assert!(matches!(outcome, ShellOutcome::Nothing));
        assert_eq!(out, "");
    });
}

#[test]
fn help_lists_the_original_commands() {
    async_io::block_on(async {
        let (store, _, _db) = temp_store().await;
        let (_, out) = command(&store, "HELP").await;
        let lines: Vec<&str> = out.lines().collect();
        for expected in [
            "SETOWNER <username>: Sets a user as owner of the server",
            "CLEARCACHE <destination>: Clears the message cache of a user",
            "EXIT: Exits the shell",
        ] {
            assert!(lines.contains(&expected), "{expected} missing from:\n{out}");
        }
    });
}

#[test]
fn clearcache_deletes_the_users_cached_messages() {
    async_io::block_on(async {
        let (store, _, _db) = temp_store().await;
        let alice = add_user(&store, "alice", 1).await;
        let bob = add_user(&store, "bob", 2).await;
        cache_message(&store, alice, bob, 1, b"one").await;
        cache_message(&store, alice, bob, 2, b"two").await;
        cache_message(&store, bob, alice, 3, b"for alice").await;
        let (outcome, out) = command(&store, "CLEARCACHE Bob").await;
        assert!(matches!(outcome, ShellOutcome::Completed), "{outcome:?}");
        assert_eq!(out, format!("{COMPLETED}\n"));
        assert!(store.pending_messages(bob, 0, 10).await.unwrap().is_empty());
        assert_eq!(store.pending_messages(alice, 0, 10).await.unwrap().len(), 1);
        assert_eq!(shell::clear_cache(&store, "ALICE").await.unwrap(), 1);
    });
}

#[test]
fn one_shot_operations() {
    async_io::block_on(async {
        let (store, _, _db) = temp_store().await;
        add_user(&store, "carol", 3).await;
        shell::set_owner(&store, "Carol").await.unwrap();
        assert_eq!(permission(&store, "carol").await, 2);
        assert!(matches!(
            shell::set_owner(&store, "dave").await,
            Err(ShellError::UserNotFound)
        ));
        assert!(matches!(
            shell::clear_cache(&store, "dave").await,
            Err(ShellError::UserNotFound)
        ));
    });
}

#[test]
fn end_of_input_ends_the_shell_cleanly() {
    async_io::block_on(async {
        let (store, url, _db) = temp_store().await;
        add_user(&store, "alice", 1).await;
        let out = script(&store, &url, b"HELP\nSETOWNER alice", true).await;
        assert!(
            out.starts_with("Connected to server database, use HELP for information\n"),
            "{out}"
        );
        assert!(out.contains(&prompt(&url)), "{out}");
        assert!(out.contains("EXIT: Exits the shell"), "{out}");
        assert!(out.contains(COMPLETED), "{out}");
        // The last line had no newline but still ran.
        assert_eq!(permission(&store, "alice").await, 2);

        assert!(script(&store, &url, b"", false).await.is_empty());
    });
}

#[test]
fn exit_stops_before_later_lines() {
    async_io::block_on(async {
        let (store, url, _db) = temp_store().await;
        add_user(&store, "alice", 1).await;
        let out = script(&store, &url, b"bogus\nexit\nSETOWNER alice\n", false).await;
        assert_eq!(out, "[X] Problem occurred: invalid command given\n");
        assert_eq!(permission(&store, "alice").await, 0);
    });
}

#[test]
fn prompt_shows_where_the_database_is_but_no_password() {
    assert_eq!(prompt("sqlite://gochat.db"), "database@gochat.db > ");
    assert_eq!(
        database_location("sqlite:///var/lib/g.db?mode=rwc"),
        "/var/lib/g.db"
    );
    assert_eq!(database_location("sqlite::memory:"), ":memory:");
    assert_eq!(database_location(":memory:"), ":memory:");
    assert_eq!(
        database_location("mysql://gochatuser:secret@mariadb:3306/gochat"),
        "mariadb:3306"
    );
    assert_eq!(
        database_location("mariadb://u:p@db.example/gochat"),
        "db.example:3306"
    );
    assert_eq!(database_location("mysql://u:p@[::1]:3307/db"), "[::1]:3307");
    assert_eq!(
        database_location("postgres://gochat:secret@pg.example/gochat?sslmode=require"),
        "pg.example:5432"
    );
    assert_eq!(
        database_location("postgresql://u@127.0.0.1:5433/db"),
        "127.0.0.1:5433"
    );
    assert!(!prompt("mysql://u:secret@h/db").contains("secret"));
}
