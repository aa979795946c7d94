//! The inbox task of one connection: what the server pushes, turned into
//! [`ClientEvent`]s in arrival order.
//!
//! Messages are taken in batches (whatever has arrived while the previous
//! batch was handled): unknown senders are asked for with REQ and stored as
//! contacts, the batch is decrypted on a blocking thread that splits it
//! across every core, stored in one transaction, and emitted in order. A
//! message that cannot be decrypted or stored is emitted as
//! [`ClientEvent::Unreadable`] with the reason, never dropped.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use gochat_proto::crypto::{self, RsaPrivateKey};
use gochat_proto::{ClientCommand, ServerCommand, Username};
use gochat_runtime::Runtime;

use super::Service;
use super::exec::{exec_of, run_blocking};
use super::task::{Account, Command, Push};
use crate::store::NewMessage;
use crate::types::ClientEvent;

/// Most pushes taken in one batch.
const MAX_BATCH: usize = 256;

/// One received message awaiting decryption.
struct Incoming {
    sender: Username,
    stamp: i64,
    ciphertext: Bytes,
}

/// The inbox task's state.
pub(crate) struct Inbox<R: Runtime> {
    rt: R,
    service: Service,
    requests: async_channel::Sender<Command>,
    events: async_channel::Sender<ClientEvent>,
    pushes: async_channel::Receiver<Push>,
    /// Senders already asked for during this connection: (server, name).
    requested: HashSet<(i64, String)>,
    _done: async_channel::Sender<()>,
}

impl<R: Runtime> Inbox<R> {
    /// An inbox reading `pushes`, asking the server through `requests` and
    /// emitting to `events`; `done` is dropped when it ends.
    pub(crate) fn new(
        rt: R,
        service: Service,
        requests: async_channel::Sender<Command>,
        events: async_channel::Sender<ClientEvent>,
        pushes: async_channel::Receiver<Push>,
        done: async_channel::Sender<()>,
    ) -> Self {
        Inbox {
            rt,
            service,
            requests,
            events,
            pushes,
            requested: HashSet::new(),
            _done: done,
        }
    }

    /// Runs until the IO task has ended and every push is handled.
    pub(crate) async fn run(mut self) {
        while let Ok(first) = self.pushes.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.pushes.try_recv() {
                    Ok(push) => batch.push(push),
                    Err(_) => break,
                }
            }
            self.handle(batch).await;
        }
    }

    /// Handles pushes in order: runs of messages for one account are
    /// processed together, anything else is emitted as it is.
    async fn handle(&mut self, batch: Vec<Push>) {
        let mut run: Vec<Incoming> = Vec::new();
        let mut run_account: Option<Arc<Account>> = None;
        for push in batch {
            match push {
                Push::Message {
                    account,
                    sender,
                    stamp,
                    ciphertext,
                } => {
                    let same = match (&run_account, &account) {
                        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                        (None, None) => true,
                        _ => false,
                    };
                    if !same && !run.is_empty() {
                        let messages = std::mem::take(&mut run);
                        self.messages(run_account.take(), messages).await;
                    }
                    run_account = account;
                    run.push(Incoming {
                        sender,
                        stamp,
                        ciphertext,
                    });
                }
                Push::Event(event) => {
                    if !run.is_empty() {
                        let messages = std::mem::take(&mut run);
                        self.messages(run_account.take(), messages).await;
                    }
                    self.emit(event);
                }
            }
        }
        if !run.is_empty() {
            self.messages(run_account, run).await;
        }
    }

    fn emit(&self, event: ClientEvent) {
        // The connection handles hold a receiver, so this only fails once
        // they are all gone, when nobody is listening anyway.
        let _ = self.events.try_send(event);
    }

    /// Learns unknown senders, decrypts, stores and emits messages that came
    /// for `account`, in order.
    async fn messages(&mut self, account: Option<Arc<Account>>, messages: Vec<Incoming>) {
        let Some(account) = account else {
            for m in messages {
                self.emit(ClientEvent::Unreadable {
                    sender: m.sender.as_str().to_owned(),
                    stamp: m.stamp,
                    reason: "it arrived while no account was logged in".to_owned(),
                });
            }
            return;
        };
        for m in &messages {
            if m.sender != account.username {
                self.learn(account.server_id, &m.sender).await;
            }
        }

        // Decrypt off the async tasks, on every core.
        let ciphertexts: Vec<Bytes> = messages.iter().map(|m| m.ciphertext.clone()).collect();
        let key_owner = account.clone();
        let exec = exec_of(&self.rt);
        let decrypted =
            match run_blocking(&*exec, move || decrypt_all(&key_owner.key, &ciphertexts)).await {
                Ok(results) => results,
                Err(e) => vec![Err(e.to_string()); messages.len()],
            };

        // Store what was read, in one transaction.
        let mut readable = Vec::new();
        for (m, text) in messages.iter().zip(&decrypted) {
            if let Ok(text) = text {
                readable.push(NewMessage {
                    server_id: account.server_id,
                    account: account.username.as_str().to_owned(),
                    peer: m.sender.as_str().to_owned(),
                    outgoing: false,
                    stamp: m.stamp,
                    text: text.clone(),
                });
            }
        }
        let mut stored = match self.service.store().add_messages(&readable).await {
            Ok(stored) if stored.len() == readable.len() => Ok(stored.into_iter()),
            Ok(_) => Err("the local database did not store every message".to_owned()),
            Err(e) => Err(e.to_string()),
        };

        // Emit in arrival order.
        for (m, text) in messages.into_iter().zip(decrypted) {
            let event = match (text, &mut stored) {
                (Err(reason), _) => ClientEvent::Unreadable {
                    sender: m.sender.as_str().to_owned(),
                    stamp: m.stamp,
                    reason: format!("cannot decrypt it: {reason}"),
                },
                (Ok(_), Ok(rows)) => match rows.next() {
                    Some(message) => ClientEvent::Message(message),
                    None => ClientEvent::Unreadable {
                        sender: m.sender.as_str().to_owned(),
                        stamp: m.stamp,
                        reason: "the local database did not store it".to_owned(),
                    },
                },
                (Ok(_), Err(e)) => ClientEvent::Unreadable {
                    sender: m.sender.as_str().to_owned(),
                    stamp: m.stamp,
                    reason: format!("cannot store it: {e}"),
                },
            };
            self.emit(event);
        }
    }

    /// Makes sure `sender` is a known contact: asks the server for its key
    /// (REQ) once per connection if the store does not know it. Failures are
    /// logged only: the message is readable without the sender's key.
    async fn learn(&mut self, server_id: i64, sender: &Username) {
        let name = sender.as_str();
        if self.requested.contains(&(server_id, name.to_owned())) {
            return;
        }
        match self.service.store().contact(server_id, name).await {
            Ok(Some(_)) => return,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("cannot look up contact {name}: {e}");
                return;
            }
        }
        self.requested.insert((server_id, name.to_owned()));
        let (tx, rx) = async_channel::bounded(1);
        let cmd = Command::Request {
            command: ClientCommand::Req {
                username: sender.clone(),
            },
            reply: tx,
        };
        if self.requests.send(cmd).await.is_err() {
            return;
        }
        match rx.recv().await {
            Ok(Ok(ServerCommand::Req {
                username, pubkey, ..
            })) => {
                if let Err(e) = crypto::public_key_from_pem(&pubkey) {
                    tracing::warn!("the server sent an unreadable key for {username}: {e}");
                    return;
                }
                let pem = String::from_utf8_lossy(&pubkey);
                if let Err(e) = self
                    .service
                    .store()
                    .upsert_contact(server_id, username.as_str(), &pem)
                    .await
                {
                    tracing::warn!("cannot store contact {username}: {e}");
                }
            }
            Ok(Ok(_)) => tracing::warn!("unexpected reply to REQ {name}"),
            Ok(Err(e)) => tracing::info!("cannot request unknown sender {name}: {e}"),
            Err(_) => {}
        }
    }
}

/// Decrypts every ciphertext with `key`, in order, split across the
/// machine's cores. Plaintexts that are not UTF-8 are read lossily.
pub(crate) fn decrypt_all(
    key: &RsaPrivateKey,
    ciphertexts: &[Bytes],
) -> Vec<Result<String, String>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(ciphertexts.len());
    if threads <= 1 {
        return ciphertexts.iter().map(|c| decrypt_one(key, c)).collect();
    }
    let chunk = ciphertexts.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = ciphertexts
            .chunks(chunk)
            .map(|part| {
                let handle = scope
                    .spawn(move || part.iter().map(|c| decrypt_one(key, c)).collect::<Vec<_>>());
                (part.len(), handle)
            })
            .collect();
        let mut out = Vec::with_capacity(ciphertexts.len());
        for (len, handle) in handles {
            match handle.join() {
                Ok(results) => out.extend(results),
                Err(_) => out.extend((0..len).map(|_| Err("decryption failed".to_owned()))),
            }
        }
        out
    })
}

fn decrypt_one(key: &RsaPrivateKey, ciphertext: &[u8]) -> Result<String, String> {
    let plain =
        crypto::decrypt(key, &mut getrandom::SysRng, ciphertext).map_err(|e| e.to_string())?;
    Ok(match String::from_utf8(plain) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}
