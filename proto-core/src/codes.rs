//! The protocol's code tables: actions, error codes, user-list kinds, admin
//! operations, hooks and permission levels (docs/PROTOCOL.md §4; errors §7).

use core::fmt;

/// The `info` value meaning "empty".
pub const EMPTY_INFO: u8 = 0xFF;

macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:expr, $text:expr; )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )*
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The wire value.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// The value for a wire code, if it is one of ours.
            pub const fn from_code(code: u8) -> Option<Self> {
                match code {
                    $( $value => Some($name::$variant), )*
                    _ => None,
                }
            }

            /// The protocol's name for this value.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }

            /// The value with this protocol name (exact spelling, case-insensitive).
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name().eq_ignore_ascii_case(name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl TryFrom<u8> for $name {
            type Error = u8;
            fn try_from(code: u8) -> Result<Self, u8> {
                Self::from_code(code).ok_or(code)
            }
        }
    };
}

code_enum! {
    /// A packet's action (operation) code.
    Action {
        /// Success reply.
        Ok = 0x01, "OK";
        /// Error reply; `info` carries the [`ErrorCode`].
        Err = 0x02, "ERR";
        /// Keep-alive from a client.
        Keep = 0x03, "KEEP";
        /// Register a user and public key.
        Reg = 0x04, "REG";
        /// Deregister the logged-in user.
        Dereg = 0x05, "DEREG";
        /// Start a login (challenge or token).
        Login = 0x06, "LOGIN";
        /// Log out.
        Logout = 0x07, "LOGOUT";
        /// Verification challenge (server) or answer (client).
        Verif = 0x08, "VERIF";
        /// Public key request (client) or reply (server).
        Req = 0x09, "REQ";
        /// User list request (client, `info` = [`UserList`]) or reply (server).
        Usrs = 0x0A, "USRS";
        /// Send a message.
        Msg = 0x0B, "MSG";
        /// Catch-up request (client) or delivered message (server).
        Reciv = 0x0C, "RECIV";
        /// Scheduled server shutdown notice.
        Shtdwn = 0x0D, "SHTDWN";
        /// Administrative operation (`info` = [`AdminOp`]).
        Admin = 0x0E, "ADMIN";
        /// Subscribe to a hook (`info` = [`Hook`]).
        Sub = 0x0F, "SUB";
        /// Unsubscribe from a hook (`info` = [`Hook`]).
        Unsub = 0x10, "UNSUB";
        /// Hook notification (`info` = [`Hook`]).
        Hook = 0x11, "HOOK";
        /// Greeting with the message of the day.
        Hello = 0x12, "HELLO";
    }
}

impl Action {
    /// Minimum argument count of this action sent by a client, `None` when a
    /// client may not send it.
    pub const fn min_args_to_server(self) -> Option<u8> {
        match self {
            Action::Keep | Action::Dereg | Action::Logout | Action::Usrs | Action::Reciv => Some(0),
            Action::Admin | Action::Sub | Action::Unsub => Some(0),
            Action::Reg | Action::Verif => Some(2),
            Action::Login | Action::Req => Some(1),
            Action::Msg => Some(3),
            Action::Ok | Action::Err | Action::Shtdwn | Action::Hook | Action::Hello => None,
        }
    }

    /// Minimum argument count of this action sent by a server, `None` when a
    /// server may not send it.
    pub const fn min_args_to_client(self) -> Option<u8> {
        match self {
            Action::Ok | Action::Err | Action::Shtdwn | Action::Hook => Some(0),
            Action::Verif | Action::Usrs | Action::Hello => Some(1),
            Action::Req | Action::Reciv => Some(3),
            _ => None,
        }
    }

    /// Whether a server may send this action with the null id.
    pub const fn null_id_allowed(self) -> bool {
        matches!(
            self,
            Action::Shtdwn | Action::Reciv | Action::Hook | Action::Hello | Action::Err
        )
    }

    /// Whether a packet with this action sent to a server needs a non-empty `info`.
    pub const fn info_required_to_server(self) -> bool {
        matches!(
            self,
            Action::Usrs | Action::Admin | Action::Err | Action::Sub | Action::Unsub
        )
    }

    /// Whether a packet with this action sent to a client needs a non-empty `info`.
    pub const fn info_required_to_client(self) -> bool {
        matches!(self, Action::Hook | Action::Err)
    }
}

code_enum! {
    /// An error code, carried in the `info` field of an ERR packet.
    ErrorCode {
        /// Undefined problem.
        Undefined = 0x00, "ERR_UNDEFINED";
        /// Invalid operation.
        Invalid = 0x01, "ERR_INVALID";
        /// Content not found.
        NotFound = 0x02, "ERR_NOTFOUND";
        /// Protocol version mismatch.
        Version = 0x03, "ERR_VERSION";
        /// Login handshake failed.
        Handshake = 0x04, "ERR_HANDSHAKE";
        /// Invalid arguments.
        Args = 0x05, "ERR_ARGS";
        /// Data too big.
        MaxSize = 0x06, "ERR_MAXSIZE";
        /// Invalid header.
        Header = 0x07, "ERR_HEADER";
        /// Not logged in.
        NoSess = 0x08, "ERR_NOSESS";
        /// User cannot be logged in.
        Login = 0x09, "ERR_LOGIN";
        /// Connection problem.
        Conn = 0x0A, "ERR_CONN";
        /// Queried data is empty.
        Empty = 0x0B, "ERR_EMPTY";
        /// Packet could not be built or delivered.
        Packet = 0x0C, "ERR_PACKET";
        /// Missing privileges.
        Perms = 0x0D, "ERR_PERMS";
        /// Server operation failed.
        Server = 0x0E, "ERR_SERVER";
        /// Idle for too long.
        Idle = 0x0F, "ERR_IDLE";
        /// Content already exists.
        Exists = 0x10, "ERR_EXISTS";
        /// User has been deregistered.
        Dereg = 0x11, "ERR_DEREG";
        /// Session exists on another connection.
        DupSess = 0x12, "ERR_DUPSESS";
        /// Secure (TLS) connection required.
        NoSecure = 0x13, "ERR_NOSECURE";
        /// Stored data is corrupted.
        Corrupted = 0x14, "ERR_CORRUPTED";
        /// Invalid option.
        Option = 0x15, "ERR_OPTION";
        /// Connection manually closed.
        Discn = 0x16, "ERR_DISCN";
    }
}

impl ErrorCode {
    /// The human description the original client prints for this code.
    pub const fn description(self) -> &'static str {
        match self {
            ErrorCode::Undefined => "undefined problem occured",
            ErrorCode::Invalid => "invalid operation performed",
            ErrorCode::NotFound => "content can not be found",
            ErrorCode::Version => "server and client versions do not match",
            ErrorCode::Handshake => "handshake process failed",
            ErrorCode::Args => "invalid arguments given",
            ErrorCode::MaxSize => "data size is too big",
            ErrorCode::Header => "invalid header provided",
            ErrorCode::NoSess => "user is not connected",
            ErrorCode::Login => "user can not be logged in",
            ErrorCode::Conn => "connection problem occured",
            ErrorCode::Empty => "queried data is empty",
            ErrorCode::Packet => "packet could not be delivered",
            ErrorCode::Perms => "missing privileges to run",
            ErrorCode::Server => "server operation failed",
            ErrorCode::Idle => "user has been idle for too long",
            ErrorCode::Exists => "content already exists",
            ErrorCode::Dereg => "user has been deleted",
            ErrorCode::DupSess => "session exists in another endpoint",
            ErrorCode::NoSecure => "secured connection required",
            ErrorCode::Corrupted => "queried data is currupted",
            ErrorCode::Option => "invalid option provided",
            ErrorCode::Discn => "connection was manually closed",
        }
    }
}

impl core::error::Error for ErrorCode {}

code_enum! {
    /// Which user list a USRS request asks for.
    UserList {
        /// Every registered user name.
        All = 0x00, "USRS_ALL";
        /// Names of logged-in users.
        Online = 0x01, "USRS_ONLINE";
        /// Every user with its permission level.
        AllPerms = 0x02, "USRS_ALLPERMS";
        /// Logged-in users with their permission levels.
        OnlinePerms = 0x03, "USRS_ONLINEPERMS";
    }
}

impl UserList {
    /// Whether the list carries permission levels.
    pub const fn with_permissions(self) -> bool {
        matches!(self, UserList::AllPerms | UserList::OnlinePerms)
    }

    /// Whether the list holds only logged-in users.
    pub const fn online_only(self) -> bool {
        matches!(self, UserList::Online | UserList::OnlinePerms)
    }
}

code_enum! {
    /// An administrative operation (the `info` of ADMIN).
    AdminOp {
        /// Schedule a shutdown at a stamp.
        Shtdwn = 0x00, "ADMIN_SHTDWN";
        /// Deregister a user.
        Dereg = 0x01, "ADMIN_DEREG";
        /// Broadcast a text to every online user.
        Brdcast = 0x02, "ADMIN_BRDCAST";
        /// Change a user's permission level.
        ChgPerms = 0x03, "ADMIN_CHGPERMS";
        /// Disconnect a user.
        Kick = 0x04, "ADMIN_KICK";
        /// Change the message of the day.
        Motd = 0x05, "ADMIN_MOTD";
    }
}

impl AdminOp {
    /// Number of arguments the operation needs.
    pub const fn arg_count(self) -> u8 {
        match self {
            AdminOp::ChgPerms => 2,
            _ => 1,
        }
    }

    /// The lowest permission level allowed to run the operation.
    pub const fn required_permission(self) -> Permission {
        match self {
            AdminOp::ChgPerms | AdminOp::Motd => Permission::Owner,
            _ => Permission::Admin,
        }
    }
}

code_enum! {
    /// A hook (event subscription), the `info` of SUB, UNSUB and HOOK.
    Hook {
        /// Every hook (SUB and UNSUB only).
        All = 0x00, "HOOK_ALL";
        /// A user logged in.
        NewLogin = 0x01, "HOOK_NEWLOGIN";
        /// A user logged out.
        NewLogout = 0x02, "HOOK_NEWLOGOUT";
        /// Someone tried to log into this session's account elsewhere.
        DupSess = 0x03, "HOOK_DUPSESS";
        /// A user's permission level changed.
        PermsChg = 0x04, "HOOK_PERMSCHG";
    }
}

impl Hook {
    /// The concrete hooks, without [`Hook::All`].
    pub const EVENTS: [Hook; 4] = [
        Hook::NewLogin,
        Hook::NewLogout,
        Hook::DupSess,
        Hook::PermsChg,
    ];

    /// Number of arguments a HOOK packet of this kind carries (0 for `All`).
    pub const fn arg_count(self) -> u8 {
        match self {
            Hook::All => 0,
            Hook::NewLogin | Hook::PermsChg => 2,
            Hook::NewLogout | Hook::DupSess => 1,
        }
    }
}

code_enum! {
    /// A permission level of the original server. Levels are incremental.
    Permission {
        /// A plain user.
        User = 0, "USER";
        /// May shut down, broadcast, deregister and kick.
        Admin = 1, "ADMIN";
        /// May also change permissions and the MOTD.
        Owner = 2, "OWNER";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_the_protocol_sizes() {
        assert_eq!(Action::ALL.len(), 18);
        assert_eq!(ErrorCode::ALL.len(), 23);
        assert_eq!(UserList::ALL.len(), 4);
        assert_eq!(AdminOp::ALL.len(), 6);
        assert_eq!(Hook::ALL.len(), 5);
        for (i, e) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(usize::from(e.code()), i);
            assert_eq!(ErrorCode::from_name(e.name()), Some(*e));
        }
        assert_eq!(Action::from_code(0), None);
        assert_eq!(Action::from_code(0x13), None);
        assert_eq!(ErrorCode::from_code(0x17), None);
    }

    #[test]
    fn admin_levels_follow_the_original() {
        assert_eq!(AdminOp::Motd.required_permission(), Permission::Owner);
        assert_eq!(AdminOp::Kick.required_permission(), Permission::Admin);
        assert_eq!(AdminOp::ChgPerms.arg_count(), 2);
        assert!(Permission::Owner > Permission::Admin);
    }
}
