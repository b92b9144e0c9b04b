//! Random sequences of calls, completions reaped by the kernel.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| libaio_rs_fuzz::run(data));
