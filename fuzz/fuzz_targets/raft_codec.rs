#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fulcrum_raft_store::fuzzing::raft_codec(data));
