//! The projection expression parser, resolver and evaluator on arbitrary UTF-8 text.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        dynasim_engine::fuzzing::check_projection(text);
    }
});
