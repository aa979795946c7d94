//! What nodes say to each other: session entries, batches of messages for
//! another node's users and its answers, and cluster-wide events.
//!
//! Messages travel in a compact binary form (they are the hot path); the
//! rest as JSON.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use gochat_proto::{HookEvent, Username};
use serde::{Deserialize, Serialize};

/// The value of a user's entry in the sessions bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionValue {
    /// The node serving the session.
    pub node: String,
    /// The node's run.
    pub run: u64,
    /// The user's permission level.
    pub permission: u8,
}

impl SessionValue {
    /// As stored.
    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// From the bucket; `None` if it is not one of ours.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The value of a user's entry in the tokens bucket: the SHA-256 of the
/// reusable token (the token itself never leaves the node that issued it)
/// and, once its session ended, when it expires (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenValue {
    /// Hex SHA-256 of the token text.
    pub sha256: String,
    /// `None` while its session lasts.
    pub expires: Option<i64>,
}

impl TokenValue {
    /// The entry for token `text`.
    pub fn new(text: &[u8], expires: Option<i64>) -> Self {
        use sha2::Digest;
        TokenValue {
            sha256: hex_of(&sha2::Sha256::digest(text)),
            expires,
        }
    }

    /// Whether `text` is the token (compared in constant time).
    pub fn matches(&self, text: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let other = TokenValue::new(text, None);
        self.sha256.as_bytes().ct_eq(other.sha256.as_bytes()).into()
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One message for a user of another node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parcel {
    /// The recipient.
    pub to: Username,
    /// The sender.
    pub sender: Username,
    /// The sender's account id.
    pub sender_id: i64,
    /// The MSG's stamp.
    pub stamp: i64,
    /// The ciphertext.
    pub ciphertext: Bytes,
}

/// The bytes `parcel` takes in a batch.
pub fn encoded_len(parcel: &Parcel) -> usize {
    2 + parcel.to.as_str().len()
        + parcel.sender.as_str().len()
        + 8
        + 8
        + 4
        + parcel.ciphertext.len()
}

/// The largest batch to put in one request, for a NATS server whose
/// payload limit is `max_payload` (0 when not known yet: NATS's default,
/// 1 MiB): the limit less room for the request's headers.
pub fn request_limit(max_payload: usize) -> usize {
    let max_payload = if max_payload == 0 {
        1 << 20
    } else {
        max_payload
    };
    max_payload.saturating_sub(4096).max(4096)
}

/// `parcels` cut, in order, into runs that each encode in at most `limit`
/// bytes (a parcel larger than that alone, as one run).
pub fn chunks(parcels: &[Parcel], limit: usize) -> Vec<&[Parcel]> {
    let mut runs = Vec::new();
    let (mut start, mut size) = (0, 4);
    for (i, parcel) in parcels.iter().enumerate() {
        let len = encoded_len(parcel);
        if i > start && size + len > limit {
            runs.push(&parcels[start..i]);
            (start, size) = (i, 4);
        }
        size += len;
    }
    if start < parcels.len() {
        runs.push(&parcels[start..]);
    }
    runs
}

/// Encodes a batch of parcels, in order, after their count.
pub fn encode_parcels(parcels: &[Parcel]) -> Bytes {
    let size: usize = parcels.iter().map(encoded_len).sum();
    let mut out = BytesMut::with_capacity(size + 4);
    out.put_u32(u32::try_from(parcels.len()).unwrap_or(u32::MAX));
    for p in parcels {
        put_name(&mut out, &p.to);
        put_name(&mut out, &p.sender);
        out.put_i64(p.sender_id);
        out.put_i64(p.stamp);
        out.put_u32(u32::try_from(p.ciphertext.len()).unwrap_or(u32::MAX));
        out.put_slice(&p.ciphertext);
    }
    out.freeze()
}

fn put_name(out: &mut BytesMut, name: &Username) {
    let bytes = name.as_str().as_bytes();
    out.put_u8(bytes.len() as u8);
    out.put_slice(bytes);
}

/// Decodes a batch of parcels; `None` if the bytes are not exactly one.
pub fn decode_parcels(mut bytes: Bytes) -> Option<Vec<Parcel>> {
    if bytes.remaining() < 4 {
        return None;
    }
    let count = bytes.get_u32() as usize;
    // Each parcel takes at least 22 bytes: no allocation beyond what came.
    let mut parcels = Vec::with_capacity(count.min(bytes.remaining() / 22));
    for _ in 0..count {
        let to = take_name(&mut bytes)?;
        let sender = take_name(&mut bytes)?;
        if bytes.remaining() < 20 {
            return None;
        }
        let sender_id = bytes.get_i64();
        let stamp = bytes.get_i64();
        let len = bytes.get_u32() as usize;
        if bytes.remaining() < len {
            return None;
        }
        let ciphertext = bytes.split_to(len);
        parcels.push(Parcel {
            to,
            sender,
            sender_id,
            stamp,
            ciphertext,
        });
    }
    (!bytes.has_remaining()).then_some(parcels)
}

fn take_name(bytes: &mut Bytes) -> Option<Username> {
    let len = usize::from(*bytes.first()?);
    if bytes.len() < 1 + len {
        return None;
    }
    bytes.advance(1);
    let name = bytes.split_to(len);
    Username::parse(&name).ok()
}

/// Whether the owning node took each parcel of a batch: `true` (queued for
/// the recipient or stored for it) or `false` (the recipient is not there:
/// the sending node stores it).
pub fn encode_taken(taken: &[bool]) -> Bytes {
    taken
        .iter()
        .map(|t| u8::from(*t))
        .collect::<Vec<u8>>()
        .into()
}

/// See [`encode_taken`]; `None` if the answer does not match `count` parcels.
pub fn decode_taken(bytes: &[u8], count: usize) -> Option<Vec<bool>> {
    (bytes.len() == count && bytes.iter().all(|b| *b <= 1))
        .then(|| bytes.iter().map(|b| *b == 1).collect())
}

/// Something every node acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The node it comes from (which has already acted on it).
    pub origin: String,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A user logged in (NEWLOGIN).
    Login {
        /// Who.
        username: String,
        /// Their permission level.
        permission: u8,
    },
    /// A user logged out (NEWLOGOUT).
    Logout {
        /// Who.
        username: String,
    },
    /// A user's permission level changed (PERMSCHG).
    Permission {
        /// Who.
        username: String,
        /// The new level.
        permission: u8,
    },
    /// An owner changed the message of the day.
    Motd {
        /// The new MOTD.
        text: Vec<u8>,
    },
    /// An admin scheduled the stop of the whole cluster.
    Shutdown {
        /// When (Unix seconds).
        stamp: i64,
    },
}

impl EventKind {
    /// The kind for a local hook event.
    pub fn from_hook(event: &HookEvent) -> Option<Self> {
        match event {
            HookEvent::NewLogin {
                username,
                permission,
            } => Some(EventKind::Login {
                username: username.as_str().to_string(),
                permission: *permission,
            }),
            HookEvent::NewLogout { username } => Some(EventKind::Logout {
                username: username.as_str().to_string(),
            }),
            HookEvent::PermsChg {
                username,
                permission,
            } => Some(EventKind::Permission {
                username: username.as_str().to_string(),
                permission: *permission,
            }),
            HookEvent::DupSess { .. } => None,
        }
    }

    /// The hook event subscribers of this node get, for the hook kinds.
    pub fn to_hook(&self) -> Option<HookEvent> {
        let user = |name: &str| Username::parse(name.as_bytes()).ok();
        Some(match self {
            EventKind::Login {
                username,
                permission,
            } => HookEvent::NewLogin {
                username: user(username)?,
                permission: *permission,
            },
            EventKind::Logout { username } => HookEvent::NewLogout {
                username: user(username)?,
            },
            EventKind::Permission {
                username,
                permission,
            } => HookEvent::PermsChg {
                username: user(username)?,
                permission: *permission,
            },
            EventKind::Motd { .. } | EventKind::Shutdown { .. } => return None,
        })
    }
}

/// A request to one node about one of its sessions; the node answers with
/// a [`CommandAnswer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeCommand {
    /// Someone at `ip` tried to log in as `username` elsewhere (DUPSESS hook).
    DupSess {
        /// The session's user.
        username: String,
        /// Where the attempt came from.
        ip: String,
    },
    /// ADMIN KICK by a user of level `level`.
    Kick {
        /// Whom.
        username: String,
        /// The caller's permission level.
        level: u8,
    },
    /// The account was deregistered: close its session.
    Dereg {
        /// Whose.
        username: String,
    },
    /// The account's level changed: the session takes it (and PERMSCHG goes
    /// out from its node).
    Permission {
        /// Whose.
        username: String,
        /// The new level.
        permission: u8,
    },
}

/// A node's answer to a [`NodeCommand`]: done, or the protocol error code
/// (as its byte) for the requester.
pub type CommandAnswer = Result<(), u8>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name.as_bytes()).unwrap()
    }

    #[test]
    fn batches_are_cut_to_the_payload_limit_in_order() {
        let parcel = |i: usize, size: usize| Parcel {
            to: user("bob"),
            sender: user("alice"),
            sender_id: i as i64,
            stamp: 0,
            ciphertext: Bytes::from(vec![b'x'; size]),
        };
        let parcels: Vec<Parcel> = (0..600).map(|i| parcel(i, 2045)).collect();
        let limit = request_limit(1 << 20);
        let runs = chunks(&parcels, limit);
        assert!(runs.len() > 1, "600 full MSGs need more than one request");
        let mut next = 0;
        for run in &runs {
            assert!(encode_parcels(run).len() <= limit);
            for p in *run {
                assert_eq!(p.sender_id, next as i64, "in order, none left out");
                next += 1;
            }
        }
        assert_eq!(next, 600);
        // Each encodes to exactly what encoded_len says.
        assert_eq!(
            encode_parcels(&parcels[..1]).len(),
            4 + encoded_len(&parcels[0])
        );
        // A parcel larger than the limit goes alone; small batches in one.
        let big = [parcel(0, 10), parcel(1, 9000), parcel(2, 10)];
        let lens: Vec<usize> = chunks(&big, 4096).iter().map(|r| r.len()).collect();
        assert_eq!(lens, vec![1, 1, 1]);
        assert_eq!(chunks(&parcels[..3], limit).len(), 1);
        assert!(chunks(&[], limit).is_empty());
        assert_eq!(request_limit(0), request_limit(1 << 20));
    }

    #[test]
    fn parcels_round_trip_and_garbage_is_refused() {
        let parcels = vec![
            Parcel {
                to: user("bob"),
                sender: user("alice"),
                sender_id: 1,
                stamp: 1_764_000_000,
                ciphertext: Bytes::from_static(b"x\r\ny"),
            },
            Parcel {
                to: user("carol"),
                sender: user("alice"),
                sender_id: 1,
                stamp: -5,
                ciphertext: Bytes::new(),
            },
        ];
        let bytes = encode_parcels(&parcels);
        assert_eq!(decode_parcels(bytes.clone()), Some(parcels));
        for cut in 1..bytes.len() {
            assert_eq!(decode_parcels(bytes.slice(..cut)), None, "cut at {cut}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(decode_parcels(Bytes::from(longer)), None, "trailing bytes");
        assert_eq!(
            decode_parcels(Bytes::from_static(b"\0\0\0\x01\x03B!b")),
            None
        );
        assert_eq!(
            decode_parcels(Bytes::from_static(b"\xff\xff\xff\xff")),
            None
        );
        assert_eq!(
            decode_parcels(Bytes::from_static(b"\0\0\0\0")),
            Some(vec![])
        );
        assert_eq!(decode_parcels(Bytes::new()), None);
    }

    #[test]
    fn answers_and_events_round_trip() {
        assert_eq!(
            decode_taken(&encode_taken(&[true, false]), 2),
            Some(vec![true, false])
        );
        assert_eq!(decode_taken(&[1, 0], 3), None);
        assert_eq!(decode_taken(&[2], 1), None);
        let hook = HookEvent::PermsChg {
            username: user("bob"),
            permission: 2,
        };
        let kind = EventKind::from_hook(&hook).unwrap();
        assert_eq!(kind.to_hook(), Some(hook));
        let value = SessionValue {
            node: "a".into(),
            run: 3,
            permission: 1,
        };
        assert_eq!(SessionValue::decode(&value.encode()), Some(value));
        assert_eq!(SessionValue::decode(b"nonsense"), None);
        let token = TokenValue::new(b"secret", Some(5));
        assert!(token.matches(b"secret"));
        assert!(!token.matches(b"secreT"));
        assert!(!token.sha256.contains("secret"));
    }
}
