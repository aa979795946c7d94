//! What the server sends: pushes become events, replies resolve their pending
//! request, and the login handshake advances.

use std::time::Instant;

use bytes::Bytes;

use super::pending::Awaiting;
use super::{
    ClientEvent, ClientSession, CloseReason, Handshake, Phase, RequestError, SessionError, Step,
};
use crate::codes::Action;
use crate::command::{ClientCommand, ServerCommand};
use crate::packet::Packet;

impl ClientSession {
    /// Handles one decoded packet.
    pub(super) fn on_packet(&mut self, packet: &Packet, now: Instant) {
        let cmd = match ServerCommand::from_packet(packet) {
            Ok(cmd) => cmd,
            Err(e) => return self.close_with(CloseReason::Command(e)),
        };
        match cmd {
            // Pushes, whatever their id: they are never replies.
            ServerCommand::Hello { motd } => {
                if let Phase::AwaitingHello = self.phase {
                    self.phase = Phase::LoggedOut;
                }
                self.events.push_back(ClientEvent::Hello { motd });
            }
            ServerCommand::Reciv {
                sender,
                stamp,
                ciphertext,
            } => self.events.push_back(ClientEvent::Message {
                sender,
                stamp,
                ciphertext,
            }),
            ServerCommand::Hook(event) => self.events.push_back(ClientEvent::Hook(event)),
            ServerCommand::Shutdown { stamp } => {
                self.events.push_back(ClientEvent::Shutdown { stamp })
            }
            // The server closes the connection after a null-id ERR.
            ServerCommand::Err(code) if packet.is_null_id() => {
                self.close_with(CloseReason::ServerError(code))
            }
            reply => self.on_reply(packet.id(), reply, now),
        }
    }

    /// Handles a reply (OK, ERR, VERIF, REQ, USRS) carrying request id `id`.
    fn on_reply(&mut self, id: u16, reply: ServerCommand, now: Instant) {
        let Some(entry) = self.pending.remove(id) else {
            self.ignored_replies = self.ignored_replies.saturating_add(1);
            return;
        };
        match entry.awaiting {
            Awaiting::Handshake => self.on_handshake_reply(reply, now),
            Awaiting::Request(action) => {
                let result = if !entry.awaiting.accepts(reply.action()) {
                    Err(RequestError::Unexpected)
                } else if let ServerCommand::Err(code) = reply {
                    Err(RequestError::Server(code))
                } else {
                    Ok(reply)
                };
                if matches!(result, Ok(ServerCommand::Ok))
                    && matches!(action, Action::Logout | Action::Dereg)
                    && matches!(self.phase, Phase::LoggedIn { .. })
                {
                    self.phase = Phase::LoggedOut;
                }
                self.events.push_back(ClientEvent::Response { id, result });
            }
        }
    }

    /// Advances the login handshake with the reply to its awaited request.
    fn on_handshake_reply(&mut self, reply: ServerCommand, now: Instant) {
        let Phase::LoggingIn(handshake) = core::mem::replace(&mut self.phase, Phase::LoggedOut)
        else {
            // Unreachable: a handshake entry exists only while logging in.
            return;
        };
        let Handshake {
            username,
            login_id,
            step,
        } = handshake;
        let outcome = match (step, reply) {
            (Step::Challenge { mut decryptor }, ServerCommand::Verif { challenge }) => {
                match decryptor.decrypt(&challenge) {
                    Err(e) => Err(RequestError::Decrypt(e.to_string())),
                    Ok(plain) => {
                        let answer = Bytes::from(plain);
                        let cmd = ClientCommand::Verif {
                            username: username.clone(),
                            answer: answer.clone(),
                        };
                        match self.send(&cmd, Some(Awaiting::Handshake), now) {
                            Ok(verif_id) => {
                                self.phase = Phase::LoggingIn(Handshake {
                                    username,
                                    login_id,
                                    step: Step::Answer {
                                        verif_id,
                                        token: answer,
                                    },
                                });
                                return;
                            }
                            Err(SessionError::Encode(e)) => Err(RequestError::Decrypt(format!(
                                "the answer cannot be sent: {e}"
                            ))),
                            // The LOGIN's id was just freed, so an id is free.
                            Err(_) => Err(RequestError::Unexpected),
                        }
                    }
                }
            }
            (Step::Answer { token, .. } | Step::Token { token }, ServerCommand::Ok) => Ok(token),
            (_, ServerCommand::Err(code)) => Err(RequestError::Server(code)),
            (_, _) => Err(RequestError::Unexpected),
        };
        match outcome {
            Ok(token) => {
                self.phase = Phase::LoggedIn {
                    username: username.clone(),
                };
                self.events.push_back(ClientEvent::LoggedIn {
                    id: login_id,
                    username,
                    token,
                });
            }
            Err(error) => self.events.push_back(ClientEvent::LoginFailed {
                id: login_id,
                username,
                error,
            }),
        }
    }

    /// Resolves a request that will get no reply (timeout).
    pub(super) fn on_request_failed(&mut self, id: u16, awaiting: Awaiting, error: RequestError) {
        match awaiting {
            Awaiting::Request(_) => self.events.push_back(ClientEvent::Response {
                id,
                result: Err(error),
            }),
            Awaiting::Handshake => {
                let phase = core::mem::replace(&mut self.phase, Phase::LoggedOut);
                match phase {
                    Phase::LoggingIn(h) if h.awaited_id() == id => {
                        let timed_out = error == RequestError::Timeout;
                        self.events.push_back(ClientEvent::LoginFailed {
                            id: h.login_id,
                            username: h.username,
                            error,
                        });
                        // A late OK would leave the server logged in and us not.
                        if timed_out {
                            self.close_with(CloseReason::LoginTimeout);
                        }
                    }
                    // Unreachable: a handshake entry exists only while logging in.
                    other => self.phase = other,
                }
            }
        }
    }
}
