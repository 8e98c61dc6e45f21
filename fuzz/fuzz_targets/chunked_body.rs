#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fulcrum_dataplane::fuzzing::chunked_body(data));
