//! Reading structured values (numbers, names, byte strings, commands) off
//! the front of fuzz input. Input that runs dry reads as zeros and empty
//! strings, so every byte string is a valid program.

use bytes::Bytes;

use crate::codes::{Action, AdminOp, ErrorCode, Hook, UserList};
use crate::command::{AdminCommand, ClientCommand, HookEvent, ServerCommand, UserEntry};
use crate::crypto::{CHALLENGE_ALPHABET, CHALLENGE_LEN, Challenge};
use crate::header::{MAX_ARGS, MAX_ID};
use crate::packet::Packet;
use crate::username::Username;

/// The challenge every fuzzed server hands out: 128 `A`s.
pub(super) fn fixed_challenge() -> Challenge {
    Challenge::from_bytes(&[CHALLENGE_ALPHABET[0]; CHALLENGE_LEN])
        .expect("128 alphabet characters make a challenge")
}

/// A cursor over fuzz input.
pub(super) struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, 0 when none is left.
    pub(super) fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes, big-endian.
    pub(super) fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// The next eight bytes, big-endian.
    pub(super) fn i64(&mut self) -> i64 {
        let mut b = [0u8; 8];
        b.iter_mut().for_each(|x| *x = self.byte());
        i64::from_be_bytes(b)
    }

    /// Up to `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Everything left.
    pub(super) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }

    /// One of `items`, chosen by the next byte.
    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.byte()) % items.len()]
    }

    /// A short valid username (1 to 4 characters, so that names repeat).
    pub(super) fn username(&mut self) -> Username {
        const CHARS: &[u8] = b"ab0";
        let len = usize::from(self.byte() % 4) + 1;
        let name: String = (0..len).map(|_| char::from(self.pick(CHARS))).collect();
        Username::new(&name).expect("generated usernames are valid")
    }

    /// A byte string: below 250 the first byte is its length and the bytes
    /// follow; from 250 up it is one repeated byte, up to 2299 long (past
    /// the argument limit of 2045).
    pub(super) fn blob(&mut self) -> Bytes {
        let n = self.byte();
        if n >= 250 {
            let len = usize::from(self.u16() % 2300);
            Bytes::from(vec![self.byte(); len])
        } else {
            Bytes::copy_from_slice(self.take(usize::from(n)))
        }
    }

    /// A packet of any action, info, id and arguments (not necessarily one
    /// that passes the header checks). `None` when the arguments do not fit.
    pub(super) fn packet(&mut self) -> Option<Packet> {
        let action = Action::from_code(self.byte() % 0x13)?;
        let info = self.byte();
        let id = self.u16() & MAX_ID;
        let count = usize::from(self.byte()) % (MAX_ARGS + 1);
        let args: Vec<Bytes> = (0..count).map(|_| self.blob()).collect();
        Packet::new(action, info, id, &args).ok()
    }

    /// A user list entry.
    fn user_entry(&mut self) -> UserEntry {
        UserEntry {
            name: self.username(),
            permission: match self.byte() {
                0..128 => None,
                b => Some(b % 4),
            },
        }
    }

    /// A hook notification.
    pub(super) fn hook_event(&mut self) -> HookEvent {
        match self.byte() % 4 {
            0 => HookEvent::NewLogin {
                username: self.username(),
                permission: self.byte(),
            },
            1 => HookEvent::NewLogout {
                username: self.username(),
            },
            2 => HookEvent::DupSess {
                ip: String::from_utf8_lossy(&self.blob()).into_owned(),
            },
            _ => HookEvent::PermsChg {
                username: self.username(),
                permission: self.byte(),
            },
        }
    }

    /// An admin operation.
    fn admin_command(&mut self) -> AdminCommand {
        match self.pick(AdminOp::ALL) {
            AdminOp::Shtdwn => AdminCommand::Shutdown { stamp: self.i64() },
            AdminOp::Dereg => AdminCommand::Dereg {
                username: self.username(),
            },
            AdminOp::Brdcast => AdminCommand::Broadcast { text: self.blob() },
            AdminOp::ChgPerms => AdminCommand::ChangePerms {
                username: self.username(),
                permission: self.byte() % 4,
            },
            AdminOp::Kick => AdminCommand::Kick {
                username: self.username(),
            },
            AdminOp::Motd => AdminCommand::Motd { text: self.blob() },
        }
    }

    /// A secret for VERIF or a token LOGIN: the fixed challenge (even byte)
    /// or any byte string.
    fn secret(&mut self) -> Bytes {
        if self.byte().is_multiple_of(2) {
            Bytes::copy_from_slice(fixed_challenge().as_bytes())
        } else {
            self.blob()
        }
    }

    /// Any client command.
    pub(super) fn client_command(&mut self) -> ClientCommand {
        match self.byte() % 14 {
            0 => ClientCommand::Keep,
            1 => ClientCommand::Reg {
                username: self.username(),
                pubkey: self.blob(),
            },
            2 => ClientCommand::Dereg,
            3 => ClientCommand::Login {
                username: self.username(),
            },
            4 => ClientCommand::LoginToken {
                username: self.username(),
                token: self.secret(),
            },
            5 => ClientCommand::Logout,
            6 => ClientCommand::Verif {
                username: self.username(),
                answer: self.secret(),
            },
            7 => ClientCommand::Req {
                username: self.username(),
            },
            8 => ClientCommand::Usrs(self.pick(UserList::ALL)),
            9 => ClientCommand::Msg {
                to: self.username(),
                stamp: self.i64(),
                ciphertext: self.blob(),
            },
            10 => ClientCommand::Reciv,
            11 => ClientCommand::Admin(self.admin_command()),
            12 => ClientCommand::Sub(self.pick(Hook::ALL)),
            _ => ClientCommand::Unsub(self.pick(Hook::ALL)),
        }
    }

    /// Any server command.
    pub(super) fn server_command(&mut self) -> ServerCommand {
        match self.byte() % 9 {
            0 => ServerCommand::Ok,
            1 => ServerCommand::Err(self.pick(ErrorCode::ALL)),
            2 => ServerCommand::Verif {
                challenge: self.blob(),
            },
            3 => ServerCommand::Req {
                username: self.username(),
                pubkey: self.blob(),
                permission: self.byte(),
            },
            4 => {
                let n = self.byte() % 5;
                ServerCommand::Usrs((0..n).map(|_| self.user_entry()).collect())
            }
            5 => ServerCommand::Reciv {
                sender: self.username(),
                stamp: self.i64(),
                ciphertext: self.blob(),
            },
            6 => ServerCommand::Shutdown {
                stamp: self.byte().is_multiple_of(2).then(|| self.i64()),
            },
            7 => ServerCommand::Hook(self.hook_event()),
            _ => ServerCommand::Hello { motd: self.blob() },
        }
    }
}
