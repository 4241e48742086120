//! The JSON request decoder and everything behind it: the first byte picks the operation, the
//! rest is the body, sent to a fresh service holding one table (fresh, so that a finding
//! reproduces from its input alone).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let service = dynasim_server::fuzzing::fixture();
    dynasim_server::fuzzing::check_request(&service, data);
});
