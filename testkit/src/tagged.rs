//! Messages that say which they are: a ciphertext `<tag>:<index>:<filler>`
//! of a chosen size and the stamp `STAMP0 + index`, so that a test can check
//! every RECIV against what was sent (order, loss, duplicates).

use bytes::Bytes;
use gochat_proto::{ClientCommand, ServerCommand};

use crate::keys::user;

/// The stamp of message 0 (2025-11-24); message `i` has `STAMP0 + i`.
pub const STAMP0: i64 = 1_764_000_000;

/// The ciphertext of message `index` tagged `tag`: unique per (tag, index),
/// `size` bytes (at least the tag and index), no CR or LF.
pub fn tagged_ciphertext(tag: &str, index: usize, size: usize) -> Bytes {
    let mut text = format!("{tag}:{index:07}:").into_bytes();
    let start = text.len();
    text.extend((start..size).map(|j| b'a' + ((index + j) % 26) as u8));
    Bytes::from(text)
}

/// MSG to `to` carrying message `index` tagged `tag`.
pub fn tagged_msg(to: &str, tag: &str, index: usize, size: usize) -> ClientCommand {
    ClientCommand::Msg {
        to: user(to),
        stamp: STAMP0 + index as i64,
        ciphertext: tagged_ciphertext(tag, index, size),
    }
}

/// A tagged message as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged {
    /// Who sent it.
    pub sender: String,
    /// Its tag.
    pub tag: String,
    /// Its index.
    pub index: usize,
}

/// Reads a RECIV of a tagged message of `size` bytes, checking that its
/// stamp and ciphertext are exactly what was sent; panics on anything else.
pub fn read_tagged(cmd: &ServerCommand, size: usize) -> Tagged {
    let ServerCommand::Reciv {
        sender,
        stamp,
        ciphertext,
    } = cmd
    else {
        panic!("expected RECIV, got {cmd:?}");
    };
    let parsed = std::str::from_utf8(ciphertext.get(..ciphertext.len().min(64)).unwrap_or(&[]))
        .ok()
        .and_then(|head| {
            let mut parts = head.splitn(3, ':');
            let tag = parts.next()?;
            let index = parts.next()?.parse::<usize>().ok()?;
            Some((tag.to_string(), index))
        });
    let Some((tag, index)) = parsed else {
        panic!("not a tagged message: {cmd:?}");
    };
    assert_eq!(*stamp, STAMP0 + index as i64, "stamp of {tag}:{index}");
    assert_eq!(
        *ciphertext,
        tagged_ciphertext(&tag, index, size),
        "ciphertext of {tag}:{index}"
    );
    Tagged {
        sender: sender.as_str().to_string(),
        tag,
        index,
    }
}
