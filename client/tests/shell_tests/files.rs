//! EXPORT without a connection and IMPORT from `import/`, HELP, the
//! terminal mode, REG (the one key generation), and the real binary.

use std::io::Write;
use std::process::{Command, Stdio};

use gochat_client::shell::ShellOptions;
use gochat_proto::crypto;
use gochat_runtime::Runtime;

use crate::common::*;
use crate::shell_support::*;

/// No server at all: IMPORT reads `import/<file>` for a named server,
/// EXPORT writes `export/<user>.priv` with mode 0600, and the failing
/// commands still take their password lines (none runs as a command).
#[test]
fn export_without_connection() {
    run(smol_rt(), |rt| async move {
        let work = workdir(&["alice", "bob"]);
        let options = ShellOptions {
            interactive: false,
            color: false,
            workdir: work.to_path_buf(),
        };
        let p = PASSWORD;
        let text = format!(
            "REGSERVER test 127.0.0.1 1\n\
             IMPORT alice alice.pem test\n{p}\n{p}\n\
             IMPORT bob bob.pem\n{p}\n{p}\n\
             EXPORT alice\n{p}\n\
             EXPORT Alice test\n{p}\n\
             EXPORT alice test\nwrong\n\
             EXPORT nobody\n{p}\n"
        );
        let (status, out) =
            script_with(&rt, service().await, &client_settings(), &text, options).await;
        assert_eq!(status, 1, "{out}");
        let file = work.join("export").join("alice.priv");
        let written = format!("[OK] file successfully written to {}\n", file.display());
        assert_eq!(out.matches(&written).count(), 2, "{out}");
        assert_contains_all(
            &out,
            &[
                "[OK] local user alice successfully added to the database\n",
                "[ERROR] IMPORT: not connected to a server: name the server",
                "[ERROR] EXPORT: wrong credentials\n",
                "[ERROR] EXPORT: local user nobody not found\n",
            ],
        );
        assert!(
            !out.contains("command not found") && !out.contains(p),
            "{out}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let exported = crypto::private_key_from_pem(&std::fs::read(&file).unwrap()).unwrap();
        let fixture = crypto::private_key_from_pem(private_pem("alice").as_bytes()).unwrap();
        assert!(exported == fixture, "the exported key is alice's");
    });
}

/// HELP lists every command in a stable order with the corrected texts.
#[test]
fn help_is_stable_and_corrected() {
    run(smol_rt(), |rt| async move {
        let text = "HELP\nhelp login\nHELP nope\n";
        let (status, out) = script(&rt, service().await, &client_settings(), text).await;
        assert_eq!(status, 1, "{out}");
        assert!(
            out.contains("\nTo exit the shell type EXIT\n\n- CONN: "),
            "{out}"
        );
        let order = [
            "CONN",
            "DISCN",
            "REG",
            "DEREG",
            "LOGIN",
            "LOGOUT",
            "USRS",
            "MSG",
            "RECIV",
            "REQ",
            "IMPORT",
            "EXPORT",
            "SUB",
            "UNSUB",
            "VER",
            "VERBOSE",
            "REGSERVER",
            "DELSERVER",
            "SERVERS",
            "ADMIN",
            "PERMS",
            "SERVERCONFIG",
            "SETSERVER",
            "RECOVER",
            "HISTORY",
            "HELP",
            "EXIT",
        ];
        let mut at = 0;
        for name in order {
            let needle = format!("\n- {name}: ");
            let i = out[at..]
                .find(&needle)
                .unwrap_or_else(|| panic!("{name} after {at}:\n{out}"));
            at += i + 1;
        }
        assert_contains_all(
            &out,
            &[
                "- LOGIN: Logs in as a local user",
                "Usage: ADMIN shutdown <minutes>",
                "[ERROR] nope: command not found\n",
            ],
        );
    });
}

/// On a terminal: the cyan prompt, no echo, and status 0 at the end.
#[test]
fn terminal_prompt() {
    run(smol_rt(), |rt| async move {
        let work = temp_dir("gochat_shell_tty");
        let options = ShellOptions {
            interactive: true,
            color: true,
            workdir: work.to_path_buf(),
        };
        let text = "ver\nRECIV\n";
        let (status, out) =
            script_with(&rt, service().await, &client_settings(), text, options).await;
        assert_eq!(status, 0, "{out}");
        let prompt = "\x1b[36m(not connected) gochat() > \x1b[0m";
        assert_eq!(
            out,
            format!(
                "gochat shell - type HELP [command] for help\n{prompt}gochat protocol version 1\n\
                 gochat shell version {}\n{prompt}[ERROR] RECIV: not connected to a server\n{prompt}\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    });
}

/// REG (prompting for the username) generates a key and registers; DEREG
/// removes the account.
#[test]
fn reg_login_dereg() {
    // REG's prompts and local checks, without generating a key (the one key
    // generation of the test suite is in tests/service.rs); the account for
    // LOGIN and DEREG comes from a fixture key.
    run(smol_rt(), |rt| async move {
        let (_server, port) = server_with(&rt, &["dave"]).await;
        let dir = temp_dir("gochat_shell_dereg");
        key_files(&dir, &["dave"]);
        let p = PASSWORD;
        let text = format!(
            "CONN 127.0.0.1 {port}\nREG\nDave\n{p}\nother\nREG erin\n{p}\nother\n\
             {}LOGIN dave\n{p}\nDEREG\n{p}\nLOGIN dave\n{p}\n",
            import_lines("dave", &dir)
        );
        let (status, out) = script(&rt, service().await, &client_settings(), &text).await;
        assert_eq!(status, 1, "{out}");
        assert_contains_all(
            &out,
            &[
                "REG\nusername: Dave\npassword: \nrepeat password: \n",
                "[ERROR] REG: passwords do not match\n",
                "[OK] local user dave successfully added to the database\n",
                "[INFO] Welcome, dave\n",
                "[OK] user dave deregistered correctly\n",
                "[ERROR] LOGIN: local user dave not found\n",
            ],
        );
    });
}

/// The real binary with `--shell` and piped standard input.
#[test]
fn binary_with_piped_stdin() {
    run(smol_rt(), |rt| async move {
        let (_server, port) = server_with(&rt, &["alice"]).await;
        let dir = temp_dir("gochat_shell_bin");
        key_files(&dir.join("keys"), &["alice"]);
        let p = PASSWORD;
        let text = format!(
            "REGSERVER test 127.0.0.1 {port}\nCONN test\n{}LOGIN alice\n{p}\nUSRS online\n\
             EXPORT alice\n{p}\nVER\nEXIT\nVER\n",
            import_lines("alice", &dir.join("keys"))
        );
        let run_binary = move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_gochat-client"))
                .current_dir(&dir)
                .args([
                    "--shell",
                    "--config",
                    "cfg/config.json",
                    "--db",
                    "data/client.db",
                ])
                .env_remove("GOCHAT_SHELL")
                .env_remove("GOCHAT_CONFIG")
                .env_remove("GOCHAT_DB")
                .env_remove("GOCHAT_RUNTIME")
                .env_remove("GOCHAT_VERBOSE")
                .env_remove("GOCHAT_CA_FILE")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            (child.wait_with_output().unwrap(), dir)
        };
        let (output, dir) = rt.spawn_blocking(run_binary).await;
        let out = String::from_utf8_lossy(&output.stdout);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{out}\n{err}");
        assert_contains_all(
            &out,
            &[
                "[OK] login successful!\n",
                "online users:\nalice\n",
                "[OK] file successfully written to export/alice.priv\n",
            ],
        );
        assert_eq!(
            out.matches("gochat protocol version 1").count(),
            1,
            "EXIT stops: {out}"
        );
        for path in [
            "export/alice.priv",
            "import",
            "logs",
            "cfg/config.json",
            "data/client.db",
        ] {
            assert!(dir.join(path).exists(), "{path} missing");
        }
    });
}
