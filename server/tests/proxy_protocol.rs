#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A server behind a TCP load balancer that sends the PROXY protocol header
//! (`proxy_protocol`): the client address in the header is the one the
//! per-address limits and the DUPSESS hook use; a connection without a
//! header is closed.

use std::net::SocketAddr;
use std::time::Duration;

use gochat_proto::{ClientCommand, ErrorCode, Hook, HookEvent, ServerCommand};
use gochat_runtime::Runtime;
use gochat_server::config::{Cli, Settings};
use gochat_testkit::{RawClient, TIMEOUT, err, run_scenario, start_server};

/// A version 1 header for a client at `ip`.
fn v1(ip: &str) -> Vec<u8> {
    format!("PROXY TCP4 {ip} 10.0.0.2 40000 9037\r\n").into_bytes()
}

/// A version 2 header: LOCAL (the balancer's own health check).
fn v2_local() -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    h
}

/// A version 2 header for a client at `ip`, port 5000, over TCP/IPv4.
fn v2(ip: [u8; 4]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0x00, 0x0C]);
    h.extend_from_slice(&ip);
    h.extend_from_slice(&[10, 0, 0, 2]);
    h.extend_from_slice(&5000u16.to_be_bytes());
    h.extend_from_slice(&9037u16.to_be_bytes());
    h
}

/// A connection that sends `header` first; the server's first packet.
async fn through<R: Runtime>(
    rt: &R,
    addr: SocketAddr,
    header: &[u8],
) -> (RawClient<R>, Option<ServerCommand>) {
    let mut c = RawClient::connect_raw(rt, addr).await;
    c.write_raw(header).await;
    let first = c.push(TIMEOUT).await;
    (c, first)
}

fn is_hello(cmd: &Option<ServerCommand>) -> bool {
    matches!(cmd, Some(ServerCommand::Hello { .. }))
}

async fn behind_a_balancer<R: Runtime>(rt: R, mut settings: Settings) {
    settings.proxy_protocol = true;
    settings.max_connections_per_ip = 1;
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();

    // One connection per client address, whatever the balancer's own.
    let (mut alice, first) = through(&rt, addr, &v1("203.0.113.1")).await;
    assert!(is_hello(&first), "{first:?}");
    let (_, first) = through(&rt, addr, &v1("203.0.113.1")).await;
    assert_eq!(first, Some(err(ErrorCode::Conn)), "same client address");
    let (mut other, first) = through(&rt, addr, &v2([198, 51, 100, 2])).await;
    assert!(is_hello(&first), "another client address: {first:?}");
    // A health check (LOCAL) counts as the balancer's own address.
    let (check, first) = through(&rt, addr, &v2_local()).await;
    assert!(is_hello(&first), "LOCAL: {first:?}");
    drop(check);

    // Without a header, or with a broken one: closed, nothing sent.
    let mut bare = RawClient::connect_raw(&rt, addr).await;
    bare.write_raw(b"\x01\x00\x00\x00\x00\x00\x00\x00").await;
    assert_eq!(bare.until_closed(TIMEOUT).await, vec![]);
    let (broken, first) = through(&rt, addr, b"PROXY TCP4 nowhere\r\n").await;
    assert_eq!(first, None);
    assert!(broken.eof, "a broken header closes the connection");

    // The DUPSESS hook names the address from the header.
    assert_eq!(alice.register("alice").await, ServerCommand::Ok);
    assert_eq!(alice.login("alice").await.0, ServerCommand::Ok);
    assert_eq!(
        alice.call(ClientCommand::Sub(Hook::DupSess)).await,
        ServerCommand::Ok
    );
    assert_eq!(
        other
            .call(ClientCommand::Login {
                username: gochat_testkit::user("alice"),
            })
            .await,
        err(ErrorCode::DupSess)
    );
    match alice.push(Duration::from_secs(5)).await {
        Some(ServerCommand::Hook(HookEvent::DupSess { ip })) => assert_eq!(ip, "198.51.100.2"),
        other => panic!("expected DUPSESS, got {other:?}"),
    }
}

#[test]
fn behind_a_balancer_tokio() {
    run_scenario(
        gochat_testkit::tokio_rt(),
        gochat_testkit::Db::Sqlite,
        behind_a_balancer,
    );
}

#[test]
fn behind_a_balancer_smol() {
    run_scenario(
        gochat_testkit::smol_rt(),
        gochat_testkit::Db::Sqlite,
        behind_a_balancer,
    );
}

/// The setting from a flag, a variable-style value and the file key.
#[test]
fn the_setting() {
    let parse = |args: &[&str]| {
        let mut all = vec!["gochat-server", "--no-tls"];
        all.extend_from_slice(args);
        Cli::try_parse_args_from(all)
            .unwrap()
            .settings()
            .unwrap()
            .proxy_protocol
    };
    assert!(!parse(&[]));
    assert!(parse(&["--proxy-protocol"]));
    assert!(parse(&["--proxy-protocol=true"]));
    assert!(!parse(&["--proxy-protocol=false"]));
    let dir = gochat_testkit::TempDir::new("gochat_proxy_cfg");
    let file = dir.path().join("config.json");
    std::fs::write(&file, r#"{"server": {"proxy_protocol": true}}"#).unwrap();
    assert!(parse(&["--config", file.to_str().unwrap()]));
}
