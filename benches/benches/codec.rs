//! Codec throughput of `gochat-proto`: decoding and encoding a MSG packet
//! (recipient "bob", a current stamp, a 512-byte ciphertext) and a bare
//! 10-byte KEEP, beside a plain copy of the same bytes as the ceiling.
//!
//! A decoder has to take its bytes out of a socket buffer, so the realistic
//! ceiling is copying them: into a preallocated buffer (`copy/slice`) or onto
//! a reused `BytesMut` (`copy/bytesmut`, what `Decoder::feed` does first).
//! Decode benchmarks feed the wire bytes into a `Decoder` and take the packet
//! out, every iteration: `decode_ref` as a checked view whose action, id and
//! arguments are read, `decode` as an owned `Packet` (its payload split off
//! as a shared `Bytes`), `decode_typed` also reading the `ClientCommand`;
//! `x64` variants feed 64 packets in one chunk and take all 64 out.
//!
//! Two groups run the same cases: `codec_bytes` reports bytes/s
//! (`Throughput::Bytes`), `codec_packets` packets/s (`Throughput::Elements`).
//! A third, `codec_parsers`, times single parsers on their own: the header
//! frame of each packet (`parse_header`), a current stamp (`decode_stamp`), a
//! USRS reply of 150 users (`ServerCommand::from_packet`) and a public key
//! PEM (`crypto::pem_decode`).
//! Run with `cargo bench -p gochat-benches --bench codec`; results are in
//! `docs/PERFORMANCE.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use gochat_benches::codec::{BATCH, cases, parsers, read_view};
use gochat_proto::decoder::parse_header;
use gochat_proto::header::HEADER_FRAME_LEN;
use gochat_proto::{ClientCommand, Decoder, Direction, ServerCommand, crypto, decode_stamp};

/// Registers every case in `group`; `unit(packets, bytes)` is the
/// throughput of one iteration.
fn register(group: &mut BenchmarkGroup<'_, WallTime>, unit: fn(u64, u64) -> Throughput) {
    for case in cases() {
        let len = case.wire.len();
        let one = unit(1, len as u64);
        let many = unit(BATCH as u64, (BATCH * len) as u64);

        // The ceilings: copying the same bytes.
        group.throughput(one.clone());
        group.bench_function(BenchmarkId::new("copy/slice", case.name), |b| {
            let mut dst = vec![0u8; len];
            b.iter(|| {
                dst.copy_from_slice(black_box(&case.wire));
                black_box(&mut dst);
            })
        });
        group.bench_function(BenchmarkId::new("copy/bytesmut", case.name), |b| {
            let mut dst = BytesMut::with_capacity(len);
            b.iter(|| {
                dst.clear();
                dst.extend_from_slice(black_box(&case.wire));
                black_box(&mut dst);
            })
        });

        group.bench_function(BenchmarkId::new("decode_ref", case.name), |b| {
            let mut decoder = Decoder::new(Direction::ToServer);
            b.iter(|| {
                decoder.feed(black_box(&case.wire));
                read_view(&decoder.decode_ref().unwrap().unwrap());
            })
        });
        group.bench_function(BenchmarkId::new("decode", case.name), |b| {
            let mut decoder = Decoder::new(Direction::ToServer);
            b.iter(|| {
                decoder.feed(black_box(&case.wire));
                black_box(decoder.decode().unwrap().unwrap());
            })
        });
        group.bench_function(BenchmarkId::new("decode_typed", case.name), |b| {
            let mut decoder = Decoder::new(Direction::ToServer);
            b.iter(|| {
                decoder.feed(black_box(&case.wire));
                let packet = decoder.decode().unwrap().unwrap();
                black_box(ClientCommand::from_packet(&packet).unwrap());
            })
        });
        group.bench_function(BenchmarkId::new("encode", case.name), |b| {
            let mut dst = BytesMut::with_capacity(len);
            b.iter(|| {
                dst.clear();
                black_box(&case.command).encode(1, &mut dst).unwrap();
                black_box(&mut dst);
            })
        });

        group.throughput(many);
        group.bench_function(BenchmarkId::new("copy/bytesmut/x64", case.name), |b| {
            let mut dst = BytesMut::with_capacity(case.batch.len());
            b.iter(|| {
                dst.clear();
                dst.extend_from_slice(black_box(&case.batch));
                black_box(&mut dst);
            })
        });
        group.bench_function(BenchmarkId::new("decode_ref/x64", case.name), |b| {
            let mut decoder = Decoder::new(Direction::ToServer);
            b.iter(|| {
                decoder.feed(black_box(&case.batch));
                while let Some(packet) = decoder.decode_ref().unwrap() {
                    read_view(&packet);
                }
            })
        });
        group.bench_function(BenchmarkId::new("decode/x64", case.name), |b| {
            let mut decoder = Decoder::new(Direction::ToServer);
            b.iter(|| {
                decoder.feed(black_box(&case.batch));
                while let Some(packet) = decoder.decode().unwrap() {
                    black_box(packet);
                }
            })
        });
    }
}

fn codec_bytes(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec_bytes");
    register(&mut group, |_, bytes| Throughput::Bytes(bytes));
    group.finish();
}

fn codec_packets(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec_packets");
    register(&mut group, |packets, _| Throughput::Elements(packets));
    group.finish();
}

fn codec_parsers(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec_parsers");
    for case in cases() {
        let frame = &case.wire[..HEADER_FRAME_LEN];
        group.bench_function(BenchmarkId::new("parse_header", case.name), |b| {
            b.iter(|| black_box(parse_header(black_box(frame), Direction::ToServer)))
        });
    }
    let inputs = parsers();
    group.bench_function("decode_stamp", |b| {
        b.iter(|| black_box(decode_stamp(black_box(&inputs.stamp))))
    });
    group.bench_function("usrs", |b| {
        b.iter(|| black_box(ServerCommand::from_packet(black_box(&inputs.usrs))))
    });
    group.bench_function("pem_decode", |b| {
        b.iter(|| black_box(crypto::pem_decode(black_box(inputs.pem.as_bytes()))))
    });
    group.finish();
}

criterion_group!(benches, codec_bytes, codec_packets, codec_parsers);
criterion_main!(benches);
