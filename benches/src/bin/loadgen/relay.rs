//! The bare relay: the ceiling the server is measured against.
//!
//! Connections are paired in accept order (2k with 2k+1). Each frame read
//! (10-byte header + the length its header gives, checked by proto-core's
//! header parser) is forwarded unchanged to the partner, and the sender gets
//! a 10-byte OK with the frame's id. No login, no store, no other checks.
//!
//! Everything one read delivers goes to the partner as one buffer, and each
//! connection's writer task writes whatever is queued in one `write` call:
//! the same batching a well-built server can do.

use std::io::Write as _;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gochat_proto::decoder::parse_header;
use gochat_proto::header::{HEADER_FRAME_LEN, VERSION};
use gochat_proto::{Action, Direction, EMPTY_INFO, Header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::{RelayArgs, Result};

/// Most queued buffers one writer wakeup takes.
const WRITE_BATCH: usize = 64;
/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// Runs the relay until stdin closes (with `--watch-stdin`) or
/// `--max-seconds` pass.
pub fn main(args: &RelayArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: &RelayArgs) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    let port = listener.local_addr()?.port();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening {port}")?;
        out.flush()?;
    }
    let watch_stdin = args.watch_stdin;
    let stdin_closed = async move {
        if watch_stdin {
            let mut sink = [0u8; 64];
            let mut stdin = tokio::io::stdin();
            while !matches!(stdin.read(&mut sink).await, Ok(0) | Err(_)) {}
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = accept_pairs(listener) => r,
        () = stdin_closed => Ok(()),
        () = tokio::time::sleep(Duration::from_secs(args.max_seconds)) => Ok(()),
    }
}

async fn accept_pairs(listener: TcpListener) -> Result<()> {
    loop {
        let (a, _) = listener.accept().await?;
        let (b, _) = listener.accept().await?;
        pair(a, b)?;
    }
}

fn pair(a: TcpStream, b: TcpStream) -> Result<()> {
    a.set_nodelay(true)?;
    b.set_nodelay(true)?;
    let (a_read, a_write) = a.into_split();
    let (b_read, b_write) = b.into_split();
    let (a_tx, a_rx) = unbounded_channel();
    let (b_tx, b_rx) = unbounded_channel();
    tokio::spawn(writer(a_write, a_rx));
    tokio::spawn(writer(b_write, b_rx));
    tokio::spawn(reader(a_read, b_tx.clone(), a_tx.clone()));
    tokio::spawn(reader(b_read, a_tx, b_tx));
    Ok(())
}

/// The 10-byte OK for a frame id.
fn ok_frame(id: u16) -> [u8; HEADER_FRAME_LEN] {
    let header = Header {
        version: VERSION,
        action: Action::Ok.code(),
        info: EMPTY_INFO,
        args: 0,
        length: 0,
        id,
    };
    let mut out = [b'\r'; HEADER_FRAME_LEN];
    out[..8].copy_from_slice(&header.to_bytes());
    out[9] = b'\n';
    out
}

async fn reader(
    mut read: OwnedReadHalf,
    partner: UnboundedSender<Bytes>,
    me: UnboundedSender<Bytes>,
) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut complete = 0;
        let mut oks = BytesMut::new();
        while buf.len() - complete >= HEADER_FRAME_LEN {
            let frame = &buf[complete..];
            let Ok((header, _)) = parse_header(&frame[..HEADER_FRAME_LEN], Direction::ToServer)
            else {
                return;
            };
            let len = HEADER_FRAME_LEN + usize::from(header.length);
            if frame.len() < len {
                break;
            }
            oks.extend_from_slice(&ok_frame(header.id));
            complete += len;
        }
        if complete > 0 {
            let frames = buf.split_to(complete).freeze();
            if partner.send(frames).is_err() || me.send(oks.freeze()).is_err() {
                return;
            }
        }
    }
}

async fn writer(mut write: OwnedWriteHalf, mut queue: UnboundedReceiver<Bytes>) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let mut joined = BytesMut::new();
    while queue.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let result = if let [one] = batch.as_slice() {
            write.write_all(one).await
        } else {
            joined.clear();
            for b in &batch {
                joined.extend_from_slice(b);
            }
            write.write_all(&joined).await
        };
        batch.clear();
        if result.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_frame_parses_back() {
        let frame = ok_frame(777);
        let (header, action) = parse_header(&frame, Direction::ToClient).ok().unzip();
        assert_eq!(action, Some(Action::Ok));
        assert_eq!(header.map(|h| h.id), Some(777));
    }
}
