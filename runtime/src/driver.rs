//! The driver loop every gochat connection runs, server side and client
//! side, over its sans-IO session:
//!
//! 1. write what the session has to send;
//! 2. act on what it produced (requests, replies, pushes); acting may queue
//!    more output, so the loop writes again before it waits;
//! 3. stop once the connection is done;
//! 4. wait for the first of: an event from the rest of the program (polled
//!    first, so that a busy socket does not starve it), bytes from the
//!    socket (handed to the session as they arrive, from a per-thread read
//!    buffer), or the session's next deadline.
//!
//! What differs between the two sides (how bytes are written, what events
//! are, what acting means) is the [`Driven`] implementation.

use std::future::{Future, poll_fn};
use std::io;
use std::task::{Context, Poll};
use std::time::Instant;

use gochat_proto::{ClientSession, ServerSession};

use crate::io::{Timer, poll_read_with};
use crate::{Runtime, Stream};

/// What the driver needs of a sans-IO session: bytes in, time in, whether
/// it is over. Both of gochat's sessions are one.
pub trait Session {
    /// Feeds bytes read from the socket.
    fn handle_input(&mut self, bytes: &[u8], now: Instant);
    /// When the session next needs [`Session::handle_timeout`].
    fn deadline(&self) -> Option<Instant>;
    /// The deadline passed.
    fn handle_timeout(&mut self, now: Instant);
    /// Whether the session is closed.
    fn is_closed(&self) -> bool;
}

/// Both sessions of `gochat-proto` are driven alike.
macro_rules! sessions {
    ($($session:ident),*) => {$(
        impl Session for $session {
            fn handle_input(&mut self, bytes: &[u8], now: Instant) {
                $session::handle_input(self, bytes, now);
            }
            fn deadline(&self) -> Option<Instant> {
                self.poll_timeout().map(|(at, _)| at)
            }
            fn handle_timeout(&mut self, now: Instant) {
                $session::handle_timeout(self, now);
            }
            fn is_closed(&self) -> bool {
                $session::is_closed(self)
            }
        }
    )*};
}

sessions!(ServerSession, ClientSession);

/// A connection the driver loop can run.
pub trait Driven {
    /// What the rest of the program sends the connection.
    type Event;
    /// Its sans-IO session.
    type Session: Session;

    /// The session.
    fn session(&self) -> &Self::Session;

    /// The session, to change.
    fn session_mut(&mut self) -> &mut Self::Session;

    /// Writes everything the session has to send.
    fn transmit<S: Stream>(&mut self, stream: &mut S) -> impl Future<Output = io::Result<()>>;

    /// Acts on what the session produced; whether there was anything (the
    /// loop then writes again before it waits).
    fn act(&mut self) -> impl Future<Output = bool>;

    /// Whether the connection is over (the loop ends): by default, once
    /// its session is closed.
    fn is_done(&self) -> bool {
        self.session().is_closed()
    }

    /// Called just before the loop waits (release idle buffers, start
    /// deferred work).
    fn before_wait(&mut self) {}

    /// Polls the rest of the program for an event.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Self::Event>;

    /// Handles an event.
    fn on_event(&mut self, event: Self::Event) -> impl Future<Output = ()>;
}

/// Why the driver loop ended.
#[derive(Debug)]
pub enum End {
    /// The connection said it is done.
    Done,
    /// The peer closed the stream.
    Eof,
    /// Reading or writing failed.
    Failed(io::Error),
}

/// What woke the loop up.
enum Wake<E> {
    Input,
    Eof,
    Failed(io::Error),
    Timer,
    Event(E),
}

/// Runs `conn` over `stream` until it is done, the peer closes, or IO fails.
pub async fn drive<R: Runtime, D: Driven, S: Stream>(rt: &R, conn: &mut D, stream: &mut S) -> End {
    let mut timer = Timer::new();
    loop {
        if let Err(e) = conn.transmit(stream).await {
            return End::Failed(e);
        }
        if conn.act().await {
            continue;
        }
        if conn.is_done() {
            return End::Done;
        }
        conn.before_wait();
        timer.set(rt, conn.session().deadline());
        match wait(conn, stream, &mut timer).await {
            Wake::Input => {}
            Wake::Eof => return End::Eof,
            Wake::Failed(e) => return End::Failed(e),
            Wake::Timer => conn.session_mut().handle_timeout(Instant::now()),
            Wake::Event(event) => conn.on_event(event).await,
        }
    }
}

/// Waits for an event, input or the timer, in that order of preference.
async fn wait<D: Driven, S: Stream>(
    conn: &mut D,
    stream: &mut S,
    timer: &mut Timer,
) -> Wake<D::Event> {
    poll_fn(|cx| {
        if let Poll::Ready(event) = conn.poll_event(cx) {
            return Poll::Ready(Wake::Event(event));
        }
        let session = conn.session_mut();
        match poll_read_with(stream, cx, |b| session.handle_input(b, Instant::now())) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Wake::Eof),
            Poll::Ready(Ok(_)) => return Poll::Ready(Wake::Input),
            Poll::Ready(Err(e)) => return Poll::Ready(Wake::Failed(e)),
            Poll::Pending => {}
        }
        if timer.poll_fire(cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        Poll::Pending
    })
    .await
}
