//! A TCP proxy that can cut what goes through it: one process's link to a
//! server (a cluster node's link to NATS) lost and restored while the
//! server and everyone else stay up, as in a network partition.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Forwards connections made to [`CutProxy::addr`] to an upstream address,
/// until cut.
pub struct CutProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: SocketAddr,
    /// Whether connections go through.
    open: AtomicBool,
    /// Whether the proxy is being dropped.
    stopping: AtomicBool,
    /// Both sides of every connection going through (to cut them).
    streams: Mutex<Vec<TcpStream>>,
}

impl CutProxy {
    /// A proxy on a free port of 127.0.0.1 in front of `upstream`, open.
    pub fn start(upstream: SocketAddr) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            open: AtomicBool::new(true),
            stopping: AtomicBool::new(false),
            streams: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || accept(listener, accepting));
        CutProxy { addr, shared }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every connection going through and refuses new ones (they are
    /// accepted and closed at once) until [`CutProxy::restore`].
    pub fn cut(&self) {
        self.shared.open.store(false, Ordering::SeqCst);
        self.shared.close_all();
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.shared.open.store(true, Ordering::SeqCst);
    }
}

impl Shared {
    fn close_all(&self) {
        let streams = std::mem::take(&mut *self.streams.lock().unwrap());
        for stream in streams {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.close_all();
        // Wakes the accepting thread so that it sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        if !shared.open.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let Ok(server) = TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(5))
        else {
            continue;
        };
        let pair = (client.try_clone(), server.try_clone());
        let (Ok(client_rx), Ok(server_rx)) = pair else {
            continue;
        };
        {
            let mut streams = shared.streams.lock().unwrap();
            streams.extend(client.try_clone());
            streams.extend(server.try_clone());
        }
        std::thread::spawn(move || pipe(client_rx, server));
        std::thread::spawn(move || pipe(server_rx, client));
    }
}

/// Copies `from` to `to` until either side ends, then closes both.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
