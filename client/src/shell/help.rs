//! The shell's commands: their names (matched without case) and their help,
//! in one stable order (the original printed its help in random map order,
//! with wrong texts for LOGIN, IMPORT and ADMIN).

/// A shell command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmd {
    Conn,
    Discn,
    Reg,
    Dereg,
    Login,
    Logout,
    Usrs,
    Msg,
    Reciv,
    Req,
    Import,
    Export,
    Sub,
    Unsub,
    Ver,
    Verbose,
    RegServer,
    DelServer,
    Servers,
    Admin,
    Perms,
    ServerConfig,
    SetServer,
    Recover,
    History,
    Help,
    Exit,
}

/// Every command with its name and help, in the order HELP prints them.
const TABLE: &[(Cmd, &str, &str)] = &[
    (
        Cmd::Conn,
        "CONN",
        "- CONN: Connects to a gochat server, by address and port or by the name of a known server. \
         A new address is remembered as Default-<id> (plain TCP: use REGSERVER ... -tls for TLS). \
         Keepalives are always sent, so the server never drops the connection for idleness \
         (-keep is accepted for the original's scripts); \
         -noverify skips the TLS certificate check (unsafe: only for a server you trust). \
         Flags may stand anywhere.\n\
         Usage: CONN <server address> <server port> [-keep] [-noverify] || CONN <server name> [-keep] [-noverify]",
    ),
    (
        Cmd::Discn,
        "DISCN",
        "- DISCN: Disconnects from the gochat server.\nUsage: DISCN",
    ),
    (
        Cmd::Reg,
        "REG",
        "- REG: Registers a new user on the connected server with a new RSA-4096 key and adds it \
         to the local database. Asks for the username (unless given) and the password twice.\n\
         Usage: REG [username]",
    ),
    (
        Cmd::Dereg,
        "DEREG",
        "- DEREG: Deregisters the logged-in user from the server and deletes it from the local \
         database (its history stays). Asks for its password.\nUsage: DEREG",
    ),
    (
        Cmd::Login,
        "LOGIN",
        "- LOGIN: Logs in as a local user of the connected server. Asks for its password, then \
         fetches the messages received while offline, subscribes to every hook and shows the \
         online users.\nUsage: LOGIN <username>",
    ),
    (
        Cmd::Logout,
        "LOGOUT",
        "- LOGOUT: Logs out the current user.\nUsage: LOGOUT",
    ),
    (
        Cmd::Usrs,
        "USRS",
        "- USRS: Prints a list of users: the online or all users of the server (-perms adds their \
         permission levels), the local users of the connected server or of every server, or the \
         requested users (whose keys are known).\n\
         Usage: USRS <online/all> [-perms] || USRS local <server/all> || USRS requested",
    ),
    (
        Cmd::Msg,
        "MSG",
        "- MSG: Sends a message to a user; an unknown user's key is requested first. A text \
         longer than one encrypted block goes as several messages.\n\
         Usage: MSG <destination user> <message>",
    ),
    (
        Cmd::Reciv,
        "RECIV",
        "- RECIV: Asks the server for the messages received while offline (LOGIN does it).\n\
         Usage: RECIV",
    ),
    (
        Cmd::Req,
        "REQ",
        "- REQ: Requests a user's public key from the server and stores it, replacing a known \
         one.\nUsage: REQ <username>",
    ),
    (
        Cmd::Import,
        "IMPORT",
        "- IMPORT: Adds a local user of the connected (or named) server from its private key \
         file (PEM, as EXPORT writes it). A relative path is read from the import/ folder. Asks \
         for a new password twice. Nothing is sent to the server.\n\
         Usage: IMPORT <username> <key file> [server name]",
    ),
    (
        Cmd::Export,
        "EXPORT",
        "- EXPORT: Writes the private key of a local user of the connected (or named) server, \
         unencrypted, to export/<username>.priv, readable by its owner only. Needs no \
         connection. Asks for the user's password.\nUsage: EXPORT <username> [server name]",
    ),
    (
        Cmd::Sub,
        "SUB",
        "- SUB: Subscribes to a hook (LOGIN subscribes to all of them). Subscriptions end at \
         logout and disconnection.\n\
         Usage: SUB <all/new_login/new_logout/duplicated_session/permissions_change>",
    ),
    (
        Cmd::Unsub,
        "UNSUB",
        "- UNSUB: Unsubscribes from a hook.\n\
         Usage: UNSUB <all/new_login/new_logout/duplicated_session/permissions_change>",
    ),
    (
        Cmd::Ver,
        "VER",
        "- VER: Prints the protocol and shell versions.\nUsage: VER",
    ),
    (
        Cmd::Verbose,
        "VERBOSE",
        "- VERBOSE: Switches the verbose mode (intermediate steps) on or off.\nUsage: VERBOSE",
    ),
    (
        Cmd::RegServer,
        "REGSERVER",
        "- REGSERVER: Adds a server to the local database, or updates the one at that address \
         and port. -tls makes the client connect to it with TLS.\n\
         Usage: REGSERVER <name> <address> <port> [-tls]",
    ),
    (
        Cmd::DelServer,
        "DELSERVER",
        "- DELSERVER: Deletes a server from the local database. Its local users stay and can be \
         recovered with RECOVER.\nUsage: DELSERVER <name>",
    ),
    (
        Cmd::Servers,
        "SERVERS",
        "- SERVERS: Prints the servers of the local database.\nUsage: SERVERS",
    ),
    (
        Cmd::Admin,
        "ADMIN",
        "- ADMIN: Sends an administrative operation; the logged-in user needs the permission for \
         it. shutdown: in <minutes>; ban: deregisters a user; broadcast: to every online user \
         (TLS only); setperms and motd: owner only.\n\
         Usage: ADMIN shutdown <minutes> || ADMIN broadcast <message> || ADMIN ban <user> || \
         ADMIN kick <user> || ADMIN setperms <user> <level> || ADMIN motd <message>",
    ),
    (
        Cmd::Perms,
        "PERMS",
        "- PERMS: Prints the permission level of a user.\nUsage: PERMS <username>",
    ),
    (
        Cmd::ServerConfig,
        "SERVERCONFIG",
        "- SERVERCONFIG: Prints the settings of a known server, which SETSERVER changes.\n\
         Usage: SERVERCONFIG <name>",
    ),
    (
        Cmd::SetServer,
        "SETSERVER",
        "- SETSERVER: Changes a setting of a known server (Server.Name, Server.Address, \
         Server.Port or Server.TLS) while disconnected.\n\
         Usage: SETSERVER <name> <target> <value>",
    ),
    (
        Cmd::Recover,
        "RECOVER",
        "- RECOVER: Recovers a local user of a deleted server: writes its private key to \
         export/<user>.priv and its conversations to export/<user>.msgs. -cleanup then deletes \
         the user from the local database. Asks for its password.\n\
         Usage: RECOVER <user> [-cleanup]",
    ),
    (
        Cmd::History,
        "HISTORY",
        "- HISTORY: Prints the last messages (20 unless a count is given) exchanged with a user \
         on the connected server by the logged-in user, oldest first.\n\
         Usage: HISTORY <user> [count]",
    ),
    (
        Cmd::Help,
        "HELP",
        "- HELP: Prints the help of every command, or of one.\nUsage: HELP [command]",
    ),
    (
        Cmd::Exit,
        "EXIT",
        "- EXIT: Leaves the shell, closing the connection.\nUsage: EXIT",
    ),
];

impl Cmd {
    /// The command called `name` (any case).
    pub(crate) fn parse(name: &str) -> Option<Cmd> {
        TABLE
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
            .map(|(c, _, _)| *c)
    }

    /// The command's help text.
    pub(crate) fn help(self) -> &'static str {
        TABLE
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("", |(_, _, h)| h)
    }

    /// The usage line of the command (the help's `Usage:` part).
    pub(crate) fn usage(self) -> &'static str {
        let help = self.help();
        help.rfind("Usage: ").map_or(help, |i| &help[i + 7..])
    }
}

/// The whole help, as HELP without an argument prints it.
pub(crate) fn full_help() -> String {
    let mut text = String::from("To exit the shell type EXIT\n");
    for (_, _, help) in TABLE {
        text.push('\n');
        text.push_str(help);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_case_insensitive() {
        for (cmd, name, help) in TABLE {
            assert_eq!(Cmd::parse(&name.to_ascii_lowercase()), Some(*cmd));
            assert!(help.starts_with(&format!("- {name}: ")), "{name}");
            assert!(help.contains("\nUsage: "), "{name}");
        }
        assert_eq!(Cmd::parse("nope"), None);
        assert_eq!(Cmd::Login.usage(), "LOGIN <username>");
    }
}
