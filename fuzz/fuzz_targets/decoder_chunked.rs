#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gochat_proto::fuzzing::decoder_chunked(data));
