//! x86_64 entry points of io_getevents and io_pgetevents that answer the
//! hottest call of all, a zero-timeout poll of the empty ring of the most
//! recently created context, in fourteen instructions and without touching
//! the stack: one fewer than libaio's own check, although this one also
//! verifies that the handle is a live context. Every other call jumps, with
//! its arguments untouched, to the Rust functions in `exports`, which do the
//! whole job (the same check included).
//!
//! They are what the exported symbols name on x86_64; the Rust functions keep
//! their C names in the source (for the header) but are linked under
//! `__libaio_io_getevents_body` and `__libaio_io_pgetevents_body`.
//!
//! # Safety
//!
//! The assembly reads `RECENT` (an aligned word, so the load is atomic), then
//! the ring only when the handle equals it (a live ring, or the registry's
//! dummy header), and the timeout only when it is not NULL, not in the
//! kernel's half of the address space, and the context is live with an empty
//! ring, where libaio's check reads it too.

/// The check, shared by both entry points: `$name` jumps to `$body`.
macro_rules! zero_timeout_entry {
    ($name:literal, $body:path) => {
        core::arch::global_asm!(
            concat!(".pushsection .text.", $name, ",\"ax\",@progbits"),
            concat!(".globl ", $name),
            concat!(".type ", $name, ",@function"),
            ".p2align 4",
            concat!($name, ":"),
            // The most recently created context? (rdi: ctx)
            "cmp rdi, qword ptr [rip + {recent}]",
            "jne {body}",
            // A timeout at all? (r8: timeout; NULL, or an address in the
            // kernel's half, is left to the body and the kernel)
            "test r8, r8",
            "jle {body}",
            // The kernel's ring, and empty? (magic at 16, head at 8, tail at 12)
            "cmp dword ptr [rdi + 16], {magic}",
            "jne {body}",
            "mov eax, dword ptr [rdi + 8]",
            "cmp eax, dword ptr [rdi + 12]",
            "jne {body}",
            // A timeout of exactly zero? Read last: with completions waiting,
            // a bad timeout is the kernel's to refuse.
            "mov rax, qword ptr [r8]",
            "or rax, qword ptr [r8 + 8]",
            "jne {body}",
            "xor eax, eax",
            "ret",
            concat!(".size ", $name, ", . - ", $name),
            ".popsection",
            recent = sym crate::registry::RECENT,
            body = sym $body,
            magic = const crate::ring::AIO_RING_MAGIC,
        );
    };
}

zero_timeout_entry!("io_getevents", crate::exports::io_getevents);
zero_timeout_entry!("io_pgetevents", crate::exports::io_pgetevents);
