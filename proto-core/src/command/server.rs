//! Commands a server sends.

use bytes::{BufMut, Bytes, BytesMut};

use super::{CommandError, arg, perm_arg, stamp_arg, user_arg};
use crate::codes::{Action, EMPTY_INFO, ErrorCode, Hook};
use crate::header::{MAX_ARG_LEN, MAX_ARGS};
use crate::packet::{EncodeError, Packet, encode_into};
use crate::stamp::{MAX_STAMP_LEN, decode_stamp, encode_stamp_into};
use crate::username::Username;

/// One line of a USRS reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEntry {
    /// The user.
    pub name: Username,
    /// The permission level, in the lists that carry it.
    pub permission: Option<u8>,
}

/// A hook notification with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookEvent {
    /// A user logged in.
    NewLogin {
        /// Who.
        username: Username,
        /// Their permission level.
        permission: u8,
    },
    /// A user logged out.
    NewLogout {
        /// Who.
        username: Username,
    },
    /// Someone tried to log into this session's account.
    DupSess {
        /// The other attempt's IP address, as text (each byte that is not
        /// UTF-8 reads as `?`).
        ip: String,
    },
    /// A user's permission level changed.
    PermsChg {
        /// Who.
        username: Username,
        /// The new level.
        permission: u8,
    },
}

impl HookEvent {
    /// The hook code.
    pub fn hook(&self) -> Hook {
        match self {
            HookEvent::NewLogin { .. } => Hook::NewLogin,
            HookEvent::NewLogout { .. } => Hook::NewLogout,
            HookEvent::DupSess { .. } => Hook::DupSess,
            HookEvent::PermsChg { .. } => Hook::PermsChg,
        }
    }
}

/// Everything a server can send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerCommand {
    /// Success.
    Ok,
    /// Failure with a code.
    Err(ErrorCode),
    /// The encrypted login challenge.
    Verif {
        /// Ciphertext of the challenge for the user's key.
        challenge: Bytes,
    },
    /// A user's public key and permission.
    Req {
        /// The user.
        username: Username,
        /// Public key PEM text.
        pubkey: Bytes,
        /// Permission level.
        permission: u8,
    },
    /// A user list.
    Usrs(Vec<UserEntry>),
    /// A delivered message.
    Reciv {
        /// Who sent it.
        sender: Username,
        /// When, in Unix seconds.
        stamp: i64,
        /// Ciphertext for the recipient's key.
        ciphertext: Bytes,
    },
    /// The server shuts down at a stamp (the original always sends one).
    Shutdown {
        /// When, in Unix seconds.
        stamp: Option<i64>,
    },
    /// A hook notification.
    Hook(HookEvent),
    /// The greeting with the message of the day.
    Hello {
        /// The message of the day.
        motd: Bytes,
    },
}

impl ServerCommand {
    /// The action code.
    pub fn action(&self) -> Action {
        match self {
            ServerCommand::Ok => Action::Ok,
            ServerCommand::Err(_) => Action::Err,
            ServerCommand::Verif { .. } => Action::Verif,
            ServerCommand::Req { .. } => Action::Req,
            ServerCommand::Usrs(_) => Action::Usrs,
            ServerCommand::Reciv { .. } => Action::Reciv,
            ServerCommand::Shutdown { .. } => Action::Shtdwn,
            ServerCommand::Hook(_) => Action::Hook,
            ServerCommand::Hello { .. } => Action::Hello,
        }
    }

    /// Reads a command from a packet a client received.
    ///
    /// USRS lines may be spread over several arguments; names are lowercased.
    pub fn from_packet(p: &Packet) -> Result<Self, CommandError> {
        Ok(match p.action() {
            Action::Ok => ServerCommand::Ok,
            Action::Err => {
                ServerCommand::Err(ErrorCode::from_code(p.info()).unwrap_or(ErrorCode::Undefined))
            }
            Action::Verif => ServerCommand::Verif {
                challenge: arg(p, 0, ErrorCode::Args)?,
            },
            Action::Req => ServerCommand::Req {
                username: user_arg(p, 0, ErrorCode::Args)?,
                pubkey: arg(p, 1, ErrorCode::Args)?,
                permission: perm_arg(p, 2)?,
            },
            Action::Usrs => ServerCommand::Usrs(parse_user_list(p)?),
            Action::Reciv => ServerCommand::Reciv {
                sender: user_arg(p, 0, ErrorCode::Args)?,
                stamp: stamp_arg(p, 1)?,
                ciphertext: arg(p, 2, ErrorCode::Args)?,
            },
            Action::Shtdwn => ServerCommand::Shutdown {
                stamp: match p.arg_slice(0) {
                    None => None,
                    Some(raw) => Some(
                        decode_stamp(raw)
                            .map_err(|_| CommandError::new(ErrorCode::Args, "invalid timestamp"))?,
                    ),
                },
            },
            Action::Hook => ServerCommand::Hook(parse_hook(p)?),
            Action::Hello => ServerCommand::Hello {
                motd: arg(p, 0, ErrorCode::Args)?,
            },
            _ => return Err(CommandError::new(ErrorCode::Invalid, "not a server action")),
        })
    }

    /// Calls `f` with the action, info and arguments of this command.
    fn with_args<R>(&self, f: impl FnOnce(Action, u8, &[&[u8]]) -> R) -> Result<R, EncodeError> {
        let mut stamp_buf = [0u8; MAX_STAMP_LEN];
        let action = self.action();
        Ok(match self {
            ServerCommand::Ok => f(action, EMPTY_INFO, &[]),
            ServerCommand::Err(code) => f(action, code.code(), &[]),
            ServerCommand::Verif { challenge } => f(action, EMPTY_INFO, &[challenge]),
            ServerCommand::Req {
                username,
                pubkey,
                permission,
            } => f(
                action,
                EMPTY_INFO,
                &[username.as_bytes(), pubkey, &[*permission]],
            ),
            ServerCommand::Usrs(entries) => {
                let chunks = user_list_args(entries)?;
                let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_ref()).collect();
                f(action, EMPTY_INFO, &refs)
            }
            ServerCommand::Reciv {
                sender,
                stamp,
                ciphertext,
            } => {
                let n = encode_stamp_into(*stamp, &mut stamp_buf);
                f(
                    action,
                    EMPTY_INFO,
                    &[sender.as_bytes(), &stamp_buf[..n], ciphertext],
                )
            }
            ServerCommand::Shutdown { stamp: None } => f(action, EMPTY_INFO, &[]),
            ServerCommand::Shutdown { stamp: Some(s) } => {
                let n = encode_stamp_into(*s, &mut stamp_buf);
                f(action, EMPTY_INFO, &[&stamp_buf[..n]])
            }
            ServerCommand::Hook(event) => {
                let info = event.hook().code();
                match event {
                    HookEvent::NewLogin {
                        username,
                        permission,
                    }
                    | HookEvent::PermsChg {
                        username,
                        permission,
                    } => f(action, info, &[username.as_bytes(), &[*permission]]),
                    HookEvent::NewLogout { username } => f(action, info, &[username.as_bytes()]),
                    HookEvent::DupSess { ip } => f(action, info, &[ip.as_bytes()]),
                }
            }
            ServerCommand::Hello { motd } => f(action, EMPTY_INFO, &[motd]),
        })
    }

    /// Appends the command's wire bytes with id `id` (0 for pushes) to `dst`.
    pub fn encode(&self, id: u16, dst: &mut BytesMut) -> Result<(), EncodeError> {
        self.with_args(|action, info, args| encode_into(dst, action, info, id, args))?
    }

    /// The command as a packet with id `id`.
    pub fn to_packet(&self, id: u16) -> Result<Packet, EncodeError> {
        self.with_args(|action, info, args| Packet::new(action, info, id, args))?
    }
}

/// Lays a user list out in arguments of whole lines, each at most 2045 bytes:
/// an original client reads the first argument and gets a valid partial list.
fn user_list_args(entries: &[UserEntry]) -> Result<Vec<BytesMut>, EncodeError> {
    let mut chunks: Vec<BytesMut> = vec![BytesMut::new()];
    let mut line = Vec::with_capacity(40);
    for e in entries {
        line.clear();
        line.extend_from_slice(e.name.as_bytes());
        if let Some(p) = e.permission {
            line.push(b' ');
            line.extend_from_slice(p.to_string().as_bytes());
        }
        let mut current = chunks.len() - 1;
        let sep = usize::from(!chunks[current].is_empty());
        if chunks[current].len() + sep + line.len() > MAX_ARG_LEN {
            if chunks.len() == MAX_ARGS {
                let total: usize = chunks.iter().map(|c| c.len() + 2).sum();
                return Err(EncodeError::PayloadTooBig(total + line.len()));
            }
            chunks.push(BytesMut::new());
            current += 1;
        }
        if !chunks[current].is_empty() {
            chunks[current].put_u8(b'\n');
        }
        chunks[current].put_slice(&line);
    }
    Ok(chunks)
}

/// Reads a user list leniently: a line that is not `name` or `name level`
/// (a name another server let through, a line cut short) is skipped rather
/// than failing the whole list, so one odd account cannot make a client drop
/// its connection. The nom parser
/// [`grammar::user_lines`](crate::grammar::user_lines) reads each argument.
fn parse_user_list(p: &Packet) -> Result<Vec<UserEntry>, CommandError> {
    let mut out = Vec::new();
    for a in p.args() {
        // `user_lines` skips what is not an entry, so it reads every line.
        if let Ok((_, entries)) = crate::grammar::user_lines(&a) {
            out.extend(entries);
        }
    }
    Ok(out)
}

/// Reads text with every byte of invalid UTF-8 replaced by `?`. Unlike
/// `from_utf8_lossy` (three bytes per U+FFFD) this never lengthens it, so what
/// was read from an argument always fits in one again.
fn text_of_same_length(raw: &[u8]) -> String {
    let mut text = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        text.push_str(chunk.valid());
        text.extend(chunk.invalid().iter().map(|_| '?'));
    }
    text
}

fn parse_hook(p: &Packet) -> Result<HookEvent, CommandError> {
    let hook =
        Hook::from_code(p.info()).ok_or(CommandError::new(ErrorCode::Option, "unknown hook"))?;
    Ok(match hook {
        Hook::All => {
            return Err(CommandError::new(
                ErrorCode::Option,
                "HOOK_ALL is not an event",
            ));
        }
        Hook::NewLogin => HookEvent::NewLogin {
            username: user_arg(p, 0, ErrorCode::Args)?,
            permission: perm_arg(p, 1)?,
        },
        Hook::NewLogout => HookEvent::NewLogout {
            username: user_arg(p, 0, ErrorCode::Args)?,
        },
        Hook::DupSess => HookEvent::DupSess {
            ip: text_of_same_length(&arg(p, 0, ErrorCode::Args)?),
        },
        Hook::PermsChg => HookEvent::PermsChg {
            username: user_arg(p, 0, ErrorCode::Args)?,
            permission: perm_arg(p, 1)?,
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    /// The user list reader before the nom parser, for the property below.
    fn reference_user_list(p: &Packet) -> Vec<UserEntry> {
        let mut out = Vec::new();
        for a in p.args() {
            for line in a.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() {
                    continue;
                }
                let (name, perm) = match line.iter().position(|&b| b == b' ') {
                    Some(i) => (&line[..i], Some(&line[i + 1..])),
                    None => (line, None),
                };
                let Ok(name) = Username::parse(name) else {
                    continue;
                };
                let permission = match perm {
                    None => None,
                    Some(text) => match core::str::from_utf8(text)
                        .ok()
                        .and_then(|t| t.trim().parse::<u8>().ok())
                    {
                        Some(level) => Some(level),
                        None => continue,
                    },
                };
                out.push(UserEntry { name, permission });
            }
        }
        out
    }

    /// Pieces user list lines are made of, odd ones included.
    fn piece() -> impl proptest::strategy::Strategy<Value = &'static [u8]> {
        proptest::sample::select(vec![
            &b"alice"[..],
            b"Bob",
            b"c3",
            b"x",
            b"\n",
            b"\r",
            b"\r\n",
            b" ",
            b"  ",
            b"0",
            b"1",
            b"255",
            b"256",
            b"+2",
            b"-1",
            b"\t",
            "\u{a0}".as_bytes(),
            b"\xff",
            b"\xc3\xa9",
            b"al ice",
            &[b'a'; 33],
        ])
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The nom reader keeps exactly the entries the line-splitting loop
        /// kept, in the same order.
        #[test]
        fn nom_reader_matches_the_loop(
            args in proptest::collection::vec(
                proptest::collection::vec(piece(), 0..16).prop_map(|p| p.concat()),
                1..4,
            ),
        ) {
            // Only the last argument may hold CRLF: the others lose their CRs.
            let last = args.len() - 1;
            let args: Vec<Vec<u8>> = args
                .iter()
                .enumerate()
                .map(|(i, a)| match i == last {
                    true => a.clone(),
                    false => a.iter().map(|&b| if b == b'\r' { b' ' } else { b }).collect(),
                })
                .collect();
            let p = Packet::new(Action::Usrs, EMPTY_INFO, 1, &args).unwrap();
            let got = match ServerCommand::from_packet(&p) {
                Ok(ServerCommand::Usrs(entries)) => entries,
                other => panic!("{other:?}"),
            };
            proptest::prop_assert_eq!(got, reference_user_list(&p));
        }
    }
}
