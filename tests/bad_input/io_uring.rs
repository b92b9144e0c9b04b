//! The bad-input matrix under the io_uring backend (`LIBAIO_BACKEND=io_uring`,
//! the second pass of `make check`): what each case is expected to do there.
//! The table's expectation, except where the backend differs from kernel AIO
//! as README.md's "The io_uring backend" documents:
//!
//! - a context of the backend given to the system libaio (the cases "created
//!   by the other library", in the system libaio's runs) is refused with
//!   `-EINVAL`, where our library serves the system libaio's context;
//! - the backend reads the iocb array, the iocbs, their iovec arrays, the
//!   events array and the timeout in user space: unmapped or read-only ones
//!   fault, and a read-only iocb (its key already 0) is accepted.
//!
//! The results are rendered to `docs/bad-input-io_uring.md`.

use super::A::*;
use super::B::*;
use super::F::*;
use super::Fld::*;
use super::V::*;
use super::{Case, Doc, E};

const SECTION: &str = "The io_uring backend";

/// README: the backend's contexts are not the kernel's.
const CONTEXTS: E = E::BackendDiffers(Doc {
    section: SECTION,
    needle: "another libaio, or the AIO system calls made directly, refuse the backend's \
             contexts with `-EINVAL`",
});

/// README: pointers the backend reads and writes itself.
const POINTERS: Doc = Doc {
    section: SECTION,
    needle: "NULL and kernel-half addresses still give `-EFAULT`; an unmapped or read-only \
             one faults (`SIGSEGV`); a read-only iocb whose key is 0 is accepted",
};

/// Whether the matrix runs under the backend.
pub fn on() -> bool {
    super::common::io_uring_backend()
}

/// What `case` is expected to do under the backend.
pub fn expect(case: &Case) -> E {
    let reaps = [Getevents, Pgetevents, Getevents01];
    match (case.func, case.arg, case.val, case.base) {
        (Cancel | Cancel01, Ctx, OtherLib, _) => super::expectation(case),
        (_, Ctx, OtherLib, _) => CONTEXTS,
        (Submit, Iocbs | Iocb, Unmapped, _)
        | (Cancel | Cancel01, Iocb, Unmapped, _)
        // A vectored read whose "iovec array" is the 512-byte buffer: the
        // backend reads past its end.
        | (Submit, Field(Opcode), Int(7), _) => E::BackendCrashes(POINTERS),
        (Submit, Iocb, ReadOnly, _) => E::BackendDiffers(POINTERS),
        (f, Events, Unmapped | ReadOnly, Ready1) if reaps.contains(&f) => {
            E::BackendCrashes(POINTERS)
        }
        (f, Timeout, Unmapped, Ready1) if reaps.contains(&f) => E::BothCrash(
            "under the io_uring backend the library reads `*timeout` for every call on its \
             contexts (README.md, The io_uring backend)",
        ),
        _ => super::expectation(case),
    }
}
