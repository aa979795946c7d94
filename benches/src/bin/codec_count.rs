//! Runs one case of the `codec` bench a given number of times, for counting
//! its instructions under callgrind (the VM has no hardware counters) or a
//! quick timing outside criterion.
//!
//! ```sh
//! cargo build --release -p gochat-benches --bin gochat-codec-count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/gochat-codec-count decode-ref msg --iterations 200000
//! ```
//!
//! Instructions per iteration are callgrind's total divided by the
//! iterations (the set-up is a few hundred thousand instructions).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use bytes::BytesMut;
use clap::{Parser, ValueEnum};
use gochat_benches::codec::{Case, cases, parsers, read_view};
use gochat_proto::decoder::parse_header;
use gochat_proto::header::HEADER_FRAME_LEN;
use gochat_proto::{ClientCommand, Decoder, Direction, ServerCommand, crypto, decode_stamp};

/// What one iteration does, as in the `codec` bench.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Op {
    /// `clear` + `extend_from_slice` onto a reused `BytesMut`.
    Copy,
    /// `feed`, `decode_ref`, read action, id and arguments.
    DecodeRef,
    /// `feed`, `decode` to an owned `Packet`.
    Decode,
    /// `decode`, then `ClientCommand::from_packet`.
    DecodeTyped,
    /// `ClientCommand::encode` into a cleared, reused `BytesMut`.
    Encode,
    /// `parse_header` on the packet's first 10 bytes.
    ParseHeader,
    /// `decode_stamp` on the current stamp (the packet is not used).
    Stamp,
    /// `ServerCommand::from_packet` on a USRS reply of 150 users (the
    /// packet is not used).
    Usrs,
    /// `crypto::pem_decode` on a public key PEM (the packet is not used).
    Pem,
}

/// Which packet.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Packet {
    /// MSG to `bob` with a 512-byte ciphertext (536 bytes).
    Msg,
    /// KEEP (10 bytes).
    Keep,
}

/// Runs one codec bench case many times.
#[derive(Debug, Parser)]
#[command(name = "gochat-codec-count")]
struct Args {
    /// The operation.
    #[arg(value_enum)]
    op: Op,
    /// The packet.
    #[arg(value_enum)]
    packet: Packet,
    /// Iterations.
    #[arg(long, default_value_t = 1_000_000)]
    iterations: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let [msg, keep] = cases();
    let case: &Case = match args.packet {
        Packet::Msg => &msg,
        Packet::Keep => &keep,
    };
    let wire = &case.wire[..];
    let inputs = parsers();
    let mut decoder = Decoder::new(Direction::ToServer);
    let mut dst = BytesMut::with_capacity(wire.len());
    let started = Instant::now();
    for _ in 0..args.iterations {
        // Each arm spells out its own match: a shared helper taking the
        // decode's result moves the packet once more and adds ~50
        // instructions to what is counted.
        let done = match args.op {
            Op::Copy => {
                dst.clear();
                dst.extend_from_slice(black_box(wire));
                black_box(&mut dst);
                Ok(())
            }
            Op::DecodeRef => {
                decoder.feed(black_box(wire));
                match decoder.decode_ref() {
                    Ok(Some(packet)) => {
                        read_view(&packet);
                        Ok(())
                    }
                    Ok(None) => Err("incomplete packet".to_owned()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Op::Decode => {
                decoder.feed(black_box(wire));
                match decoder.decode() {
                    Ok(Some(packet)) => {
                        black_box(packet);
                        Ok(())
                    }
                    Ok(None) => Err("incomplete packet".to_owned()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Op::DecodeTyped => {
                decoder.feed(black_box(wire));
                match decoder.decode() {
                    Ok(Some(packet)) => ClientCommand::from_packet(&packet)
                        .map(|command| {
                            black_box(command);
                        })
                        .map_err(|e| e.to_string()),
                    Ok(None) => Err("incomplete packet".to_owned()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Op::Encode => {
                dst.clear();
                black_box(&case.command)
                    .encode(1, &mut dst)
                    .map(|()| {
                        black_box(&mut dst);
                    })
                    .map_err(|e| e.to_string())
            }
            Op::ParseHeader => {
                parse_header(black_box(&wire[..HEADER_FRAME_LEN]), Direction::ToServer)
                    .map(|header| {
                        black_box(header);
                    })
                    .map_err(|e| e.to_string())
            }
            Op::Stamp => decode_stamp(black_box(&inputs.stamp))
                .map(|stamp| {
                    black_box(stamp);
                })
                .map_err(|e| e.to_string()),
            Op::Usrs => ServerCommand::from_packet(black_box(&inputs.usrs))
                .map(|command| {
                    black_box(command);
                })
                .map_err(|e| e.to_string()),
            Op::Pem => crypto::pem_decode(black_box(inputs.pem.as_bytes()))
                .map(|block| {
                    black_box(block);
                })
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = done {
            eprintln!("gochat-codec-count: {e}");
            return ExitCode::FAILURE;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{:?} {:?}: {} iterations, {:.2} ns each",
        args.op,
        args.packet,
        args.iterations,
        elapsed.as_nanos() as f64 / args.iterations as f64
    );
    ExitCode::SUCCESS
}
