//! Hand-written programs for the session targets: whole conversations
//! (greeting, challenge login, requests, timers, logout) in the instruction
//! language of [`client_session`](super::client_session) and
//! [`server_session`](super::server_session). They seed the fuzz corpus and
//! the unit tests.

use bytes::Bytes;

use crate::command::{ClientCommand, ServerCommand};
use crate::username::Username;

fn alice() -> Username {
    Username::new("alice").expect("valid name")
}

/// `1` server packet: id mode, command bytes, split point.
fn server_packet(id_mode: u8, command: &[u8]) -> Vec<u8> {
    let mut v = vec![1, id_mode];
    v.extend_from_slice(command);
    v.extend_from_slice(&[0, 3]);
    v
}

/// Session-program instruction 0: `bytes` as raw input, 255 bytes at a time.
pub fn raw(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for chunk in bytes.chunks(255) {
        v.push(0);
        v.push(chunk.len() as u8);
        v.extend_from_slice(chunk);
    }
    v
}

/// The wire bytes of a server command.
fn server_wire(cmd: ServerCommand, id: u16) -> Vec<u8> {
    cmd.to_packet(id)
        .expect("seed packets fit")
        .to_bytes()
        .to_vec()
}

/// The wire bytes of a client command.
fn client_wire(cmd: ClientCommand, id: u16) -> Vec<u8> {
    cmd.to_packet(id)
        .expect("seed packets fit")
        .to_bytes()
        .to_vec()
}

/// A username of one character (`a`, `b` or `0`).
const USER_A: [u8; 2] = [0, 0];
const USER_B: [u8; 2] = [0, 1];

/// Programs for [`client_session`](super::client_session).
pub fn client_session_seeds() -> Vec<Vec<u8>> {
    let hello = server_packet(0, &[8, 2, b'h', b'i']);
    let login_challenge = [6, 0, 2, USER_A[0], USER_A[1]];
    let verif = server_packet(1, &[2, 3, b'x', b'y', b'z']);
    let ok = server_packet(1, &[0]);
    let err = server_packet(1, &[1, 4]);
    let usrs_request = [6, 2, 8, 1];
    let usrs_reply = server_packet(1, &[4, 2, 0, 0, 200, 0, 1, 0]);
    let req_request = [6, 2, 7, USER_B[0], USER_B[1]];
    let req_reply = server_packet(1, &[3, 0, 1, 4, b'-', b'-', b'-', b'-', 1]);
    let msg_request = [
        6, 2, 9, 0, 1, 0, 0, 0, 0, 0x68, 0x62, 0xc1, 0x20, 2, b'c', b't',
    ];
    let push_reciv = server_packet(0, &[5, 0, 1, 0, 0, 0, 0, 0x68, 0x62, 0xc1, 0x20, 1, 0]);
    let push_hook = server_packet(0, &[7, 0, 0, 0, 1]);
    let push_shutdown = server_packet(0, &[6, 0, 0, 0, 0, 0, 0x68, 0x62, 0xc1, 0x20]);
    let logout = [6, 2, 5];
    let token_login = [6, 1, USER_A[0], USER_A[1], 3, b't', b'o', b'k'];
    let jump_deadline = [5];
    let keepalive_wait = [3, 0x02, 0x9a];
    let close = [7, 0];
    let null_err = server_packet(0, &[1, 15]);

    let conversation: Vec<&[u8]> = vec![
        &[0, 0, 7],
        &hello,
        &login_challenge,
        &verif,
        &ok,
        &usrs_request,
        &usrs_reply,
        &req_request,
        &req_reply,
        &msg_request,
        &ok,
        &push_reciv,
        &push_hook,
        &push_shutdown,
        &keepalive_wait,
        &[4],
        &logout,
        &ok,
        &close,
    ];
    let timeouts: Vec<&[u8]> = vec![
        &[1, 0, 1],
        &hello,
        &login_challenge,
        &jump_deadline,
        &token_login,
        &err,
        &usrs_request,
        &jump_deadline,
        &jump_deadline,
        &null_err,
    ];
    let failing_logins: Vec<&[u8]> = vec![
        &[3, 3, 0xff],
        &hello,
        &[6, 0, 1, 0, 0],
        &verif,
        &[6, 0, 3, 0, 1],
        &verif,
        &[6, 0, 0, 0, 2],
        &err,
        &[2, 0x10, 0x00],
        &[4],
    ];
    // A raw HELLO, then a LOGIN answered by raw VERIF and OK bytes.
    let mut raw_bytes: Vec<u8> = vec![4, 0, 5];
    let motd = Bytes::from_static(b"hi");
    raw_bytes.extend(raw(&server_wire(ServerCommand::Hello { motd }, 0)));
    raw_bytes.extend_from_slice(&login_challenge);
    let challenge = Bytes::from_static(b"abc");
    raw_bytes.extend(raw(&server_wire(ServerCommand::Verif { challenge }, 5)));
    raw_bytes.extend(raw(&server_wire(ServerCommand::Ok, 6)));
    let mut late = server_wire(ServerCommand::Ok, 6);
    late.push(0x20);
    raw_bytes.extend(raw(&late));

    let mut out: Vec<Vec<u8>> = [conversation, timeouts, failing_logins]
        .iter()
        .map(|parts| parts.concat())
        .collect();
    out.push(raw_bytes);
    out
}

/// Programs for [`server_session`](super::server_session).
pub fn server_session_seeds() -> Vec<Vec<u8>> {
    let stamp = [0, 0, 0, 0, 0x68, 0x62, 0xc1, 0x20];
    let client = |command: &[u8]| {
        let mut v = vec![1, 2];
        v.extend_from_slice(command);
        v.extend_from_slice(&[0, 5]);
        v
    };
    let login = client(&[3, USER_A[0], USER_A[1]]);
    let verif = client(&[6, USER_A[0], USER_A[1], 0]);
    let bad_verif = client(&[6, USER_A[0], USER_A[1], 1, 3, b'x', b'y', b'z']);
    let usrs = client(&[8, 3]);
    let req = client(&[7, USER_B[0], USER_B[1]]);
    let mut msg_cmd = vec![9, USER_B[0], USER_B[1]];
    msg_cmd.extend_from_slice(&stamp);
    msg_cmd.extend_from_slice(&[2, b'c', b't']);
    let msg = client(&msg_cmd);
    let reciv = client(&[10]);
    let sub = client(&[12, 1]);
    let unsub = client(&[13, 0]);
    let motd = client(&[11, 5, 1, b'm']);
    let chgperms = client(&[11, 3, USER_A[0], USER_A[1], 1]);
    let kick = client(&[11, 4, USER_A[0], USER_A[1]]);
    let logout = client(&[5]);
    let token = client(&[4, USER_A[0], USER_A[1], 0]);
    let reg = client(&[1, USER_B[0], USER_B[1], 3, b'k', b'e', b'y']);
    let keep = client(&[0]);
    let null_id = [1, 0, 10, 0, 0];
    let marker = [7, 0];
    let idle_wait = [3, 0x05, 0xdc];

    let conversation: Vec<&[u8]> = vec![
        &[0, 2],
        &reg,
        &login,
        &verif,
        &marker,
        &usrs,
        &req,
        &msg,
        &reciv,
        &sub,
        &unsub,
        &motd,
        &chgperms,
        &keep,
        &logout,
        &token,
        &kick,
    ];
    let timers: Vec<&[u8]> = vec![
        &[0, 0x0d],
        &login,
        &[5],
        &login,
        &bad_verif,
        &login,
        &verif,
        &idle_wait,
        &[4],
        &[5],
    ];
    let queued: Vec<&[u8]> = vec![
        &[0, 0x80],
        &login,
        &keep,
        &marker,
        &[6, 2, b'h', b'i'],
        &verif,
    ];
    let malformed: Vec<&[u8]> = vec![&[0, 1], &login, &null_id];
    let mut raw_login: Vec<u8> = vec![0, 0];
    let username = alice();
    raw_login.extend(raw(&client_wire(ClientCommand::Login { username }, 5)));
    raw_login.extend(raw(&client_wire(ClientCommand::Logout, 6)));
    raw_login.extend(raw(b"\x20\x3f\xf0\x00\x00\x05\xff\xff\r\n"));

    let mut out: Vec<Vec<u8>> = [conversation, timers, queued, malformed]
        .iter()
        .map(|parts| parts.concat())
        .collect();
    out.push(raw_login);
    out
}
