//! Every expression parser, chosen by the first byte (the corpus shared with `cargo test`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dynasim_engine::fuzzing::check_expression_bytes(data));
