#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gochat_proto::fuzzing::server_command(data));
