//! Random sequences of calls with `LIBAIO_USERSPACE_REAP=1`: the library
//! copies completions out of the ring itself.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: libaio_rs_fuzz::enable_user_space_reaping(),
    |data: &[u8]| libaio_rs_fuzz::run(data)
);
