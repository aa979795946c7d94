//! Commands a client sends.

use bytes::{Bytes, BytesMut};

use super::{CommandError, arg, perm_arg, stamp_arg, user_arg};
use crate::codes::{Action, AdminOp, EMPTY_INFO, ErrorCode, Hook, UserList};
use crate::packet::{EncodeError, Packet, encode_into};
use crate::stamp::{MAX_STAMP_LEN, encode_stamp_into};
use crate::username::Username;

/// An administrative operation with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminCommand {
    /// Shut the server down at a Unix time.
    Shutdown {
        /// When, in Unix seconds.
        stamp: i64,
    },
    /// Deregister a user.
    Dereg {
        /// Target.
        username: Username,
    },
    /// Send a text to every online user.
    Broadcast {
        /// The text.
        text: Bytes,
    },
    /// Change a user's permission level.
    ChangePerms {
        /// Target.
        username: Username,
        /// New level (the server checks it is one it knows).
        permission: u8,
    },
    /// Disconnect a user.
    Kick {
        /// Target.
        username: Username,
    },
    /// Replace the message of the day.
    Motd {
        /// New text.
        text: Bytes,
    },
}

impl AdminCommand {
    /// The operation code.
    pub fn op(&self) -> AdminOp {
        match self {
            AdminCommand::Shutdown { .. } => AdminOp::Shtdwn,
            AdminCommand::Dereg { .. } => AdminOp::Dereg,
            AdminCommand::Broadcast { .. } => AdminOp::Brdcast,
            AdminCommand::ChangePerms { .. } => AdminOp::ChgPerms,
            AdminCommand::Kick { .. } => AdminOp::Kick,
            AdminCommand::Motd { .. } => AdminOp::Motd,
        }
    }

    /// Reads the operation from an ADMIN packet, checking in the original's
    /// order: unknown op (ERR_INVALID), too few arguments (ERR_ARGS), then each
    /// argument.
    pub fn from_packet(p: &Packet) -> Result<Self, CommandError> {
        let op = AdminOp::from_code(p.info()).ok_or(CommandError::new(
            ErrorCode::Invalid,
            "unknown admin operation",
        ))?;
        if p.arg_count() < usize::from(op.arg_count()) {
            return Err(CommandError::new(
                ErrorCode::Args,
                "missing admin arguments",
            ));
        }
        Ok(match op {
            AdminOp::Shtdwn => AdminCommand::Shutdown {
                stamp: stamp_arg(p, 0)?,
            },
            AdminOp::Dereg => AdminCommand::Dereg {
                username: user_arg(p, 0, ErrorCode::NotFound)?,
            },
            AdminOp::Brdcast => AdminCommand::Broadcast {
                text: arg(p, 0, ErrorCode::Args)?,
            },
            AdminOp::ChgPerms => AdminCommand::ChangePerms {
                username: user_arg(p, 0, ErrorCode::NotFound)?,
                permission: perm_arg(p, 1)?,
            },
            AdminOp::Kick => AdminCommand::Kick {
                username: user_arg(p, 0, ErrorCode::NotFound)?,
            },
            AdminOp::Motd => AdminCommand::Motd {
                text: arg(p, 0, ErrorCode::Args)?,
            },
        })
    }
}

/// Everything a client can send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCommand {
    /// Keep the connection alive; no reply.
    Keep,
    /// Register a user with its public key PEM.
    Reg {
        /// The new name.
        username: Username,
        /// Public key PEM text, as sent.
        pubkey: Bytes,
    },
    /// Deregister the logged-in user.
    Dereg,
    /// Start a challenge login.
    Login {
        /// Who.
        username: Username,
    },
    /// Log in with a reusable token (TLS only).
    LoginToken {
        /// Who.
        username: Username,
        /// The token (an earlier challenge text).
        token: Bytes,
    },
    /// Log out.
    Logout,
    /// Answer a login challenge.
    Verif {
        /// Who.
        username: Username,
        /// The decrypted challenge text.
        answer: Bytes,
    },
    /// Ask for a user's public key and permission.
    Req {
        /// Whom.
        username: Username,
    },
    /// Ask for a user list.
    Usrs(UserList),
    /// Send an encrypted message.
    Msg {
        /// Recipient.
        to: Username,
        /// Unix seconds.
        stamp: i64,
        /// Ciphertext for the recipient's key.
        ciphertext: Bytes,
    },
    /// Ask for the messages stored while offline.
    Reciv,
    /// An administrative operation.
    Admin(AdminCommand),
    /// Subscribe to a hook.
    Sub(Hook),
    /// Unsubscribe from a hook.
    Unsub(Hook),
}

impl ClientCommand {
    /// The action code.
    pub fn action(&self) -> Action {
        match self {
            ClientCommand::Keep => Action::Keep,
            ClientCommand::Reg { .. } => Action::Reg,
            ClientCommand::Dereg => Action::Dereg,
            ClientCommand::Login { .. } | ClientCommand::LoginToken { .. } => Action::Login,
            ClientCommand::Logout => Action::Logout,
            ClientCommand::Verif { .. } => Action::Verif,
            ClientCommand::Req { .. } => Action::Req,
            ClientCommand::Usrs(_) => Action::Usrs,
            ClientCommand::Msg { .. } => Action::Msg,
            ClientCommand::Reciv => Action::Reciv,
            ClientCommand::Admin(_) => Action::Admin,
            ClientCommand::Sub(_) => Action::Sub,
            ClientCommand::Unsub(_) => Action::Unsub,
        }
    }

    /// Reads a command from a packet a server received.
    ///
    /// A server-only action is ERR_INVALID. Bad usernames are ERR_ARGS at REG
    /// and ERR_NOTFOUND elsewhere (the original looks them up and finds
    /// nothing); unknown list kinds and hooks are ERR_OPTION.
    pub fn from_packet(p: &Packet) -> Result<Self, CommandError> {
        let need = |n: usize| {
            if p.arg_count() < n {
                Err(CommandError::new(ErrorCode::Args, "missing arguments"))
            } else {
                Ok(())
            }
        };
        Ok(match p.action() {
            Action::Keep => ClientCommand::Keep,
            Action::Reg => {
                need(2)?;
                ClientCommand::Reg {
                    username: user_arg(p, 0, ErrorCode::Args)?,
                    pubkey: arg(p, 1, ErrorCode::Args)?,
                }
            }
            Action::Dereg => ClientCommand::Dereg,
            Action::Login => {
                need(1)?;
                let username = user_arg(p, 0, ErrorCode::NotFound)?;
                match p.arg(1) {
                    Some(token) => ClientCommand::LoginToken { username, token },
                    None => ClientCommand::Login { username },
                }
            }
            Action::Logout => ClientCommand::Logout,
            Action::Verif => {
                need(2)?;
                ClientCommand::Verif {
                    username: user_arg(p, 0, ErrorCode::NotFound)?,
                    answer: arg(p, 1, ErrorCode::Args)?,
                }
            }
            Action::Req => {
                need(1)?;
                ClientCommand::Req {
                    username: user_arg(p, 0, ErrorCode::NotFound)?,
                }
            }
            Action::Usrs => ClientCommand::Usrs(
                UserList::from_code(p.info())
                    .ok_or(CommandError::new(ErrorCode::Option, "unknown user list"))?,
            ),
            Action::Msg => {
                need(3)?;
                ClientCommand::Msg {
                    to: user_arg(p, 0, ErrorCode::NotFound)?,
                    stamp: stamp_arg(p, 1)?,
                    ciphertext: arg(p, 2, ErrorCode::Args)?,
                }
            }
            Action::Reciv => ClientCommand::Reciv,
            Action::Admin => ClientCommand::Admin(AdminCommand::from_packet(p)?),
            Action::Sub => ClientCommand::Sub(hook_info(p)?),
            Action::Unsub => ClientCommand::Unsub(hook_info(p)?),
            Action::Ok | Action::Err | Action::Shtdwn | Action::Hook | Action::Hello => {
                return Err(CommandError::new(ErrorCode::Invalid, "not a client action"));
            }
        })
    }

    /// Calls `f` with the action, info and arguments of this command.
    fn with_args<R>(&self, f: impl FnOnce(Action, u8, &[&[u8]]) -> R) -> R {
        let mut stamp = [0u8; MAX_STAMP_LEN];
        let action = self.action();
        match self {
            ClientCommand::Keep
            | ClientCommand::Dereg
            | ClientCommand::Logout
            | ClientCommand::Reciv => f(action, EMPTY_INFO, &[]),
            ClientCommand::Reg { username, pubkey } => {
                f(action, EMPTY_INFO, &[username.as_bytes(), pubkey])
            }
            ClientCommand::Login { username } | ClientCommand::Req { username } => {
                f(action, EMPTY_INFO, &[username.as_bytes()])
            }
            ClientCommand::LoginToken { username, token } => {
                f(action, EMPTY_INFO, &[username.as_bytes(), token])
            }
            ClientCommand::Verif { username, answer } => {
                f(action, EMPTY_INFO, &[username.as_bytes(), answer])
            }
            ClientCommand::Usrs(list) => f(action, list.code(), &[]),
            ClientCommand::Msg {
                to,
                stamp: s,
                ciphertext,
            } => {
                let n = encode_stamp_into(*s, &mut stamp);
                f(
                    action,
                    EMPTY_INFO,
                    &[to.as_bytes(), &stamp[..n], ciphertext],
                )
            }
            ClientCommand::Admin(admin) => {
                let info = admin.op().code();
                match admin {
                    AdminCommand::Shutdown { stamp: s } => {
                        let n = encode_stamp_into(*s, &mut stamp);
                        f(action, info, &[&stamp[..n]])
                    }
                    AdminCommand::Dereg { username } | AdminCommand::Kick { username } => {
                        f(action, info, &[username.as_bytes()])
                    }
                    AdminCommand::Broadcast { text } | AdminCommand::Motd { text } => {
                        f(action, info, &[text])
                    }
                    AdminCommand::ChangePerms {
                        username,
                        permission,
                    } => f(action, info, &[username.as_bytes(), &[*permission]]),
                }
            }
            ClientCommand::Sub(h) | ClientCommand::Unsub(h) => f(action, h.code(), &[]),
        }
    }

    /// Appends the command's wire bytes with request id `id` to `dst`.
    pub fn encode(&self, id: u16, dst: &mut BytesMut) -> Result<(), EncodeError> {
        self.with_args(|action, info, args| encode_into(dst, action, info, id, args))
    }

    /// The command as a packet with request id `id`.
    pub fn to_packet(&self, id: u16) -> Result<Packet, EncodeError> {
        self.with_args(|action, info, args| Packet::new(action, info, id, args))
    }
}

fn hook_info(p: &Packet) -> Result<Hook, CommandError> {
    Hook::from_code(p.info()).ok_or(CommandError::new(ErrorCode::Option, "unknown hook"))
}
