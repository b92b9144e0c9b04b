//! x86_64 entry points of io_getevents and io_pgetevents that answer the
//! hottest call of all, a zero-timeout poll of the empty ring of the most
//! recently created context, in a few instructions, without touching the
//! stack or making any atomic read-modify-write. Every other call jumps,
//! with its arguments untouched, to the Rust functions in `exports`, which
//! do the whole job.
//!
//! They are what the exported symbols name on x86_64; the Rust functions keep
//! their C names in the source (for the header) but are linked under
//! `__libaio_io_getevents_body` and `__libaio_io_pgetevents_body`.
//!
//! # Safety
//!
//! The check reads the registry's `RECENT` entry (always mapped: the
//! registry's own memory), and the ring only inside a restartable sequence
//! (`rseq`) that begins by checking that the entry still holds the handle, so
//! that an `io_destroy` in another thread, which clears the entry and then
//! restarts every such sequence before the ring is unmapped, can never leave
//! it reading an unmapped ring. `RECENT` names an entry other than the
//! registry's empty one only in the registry's rseq mode, where glibc's rseq
//! offset is known. The timeout is read only when it is not NULL, not in
//! the kernel's half of the address space, and the context is live with an
//! empty ring (and nothing reaped ahead), where libaio's check reads it too.
//! A sequence aborted by the kernel starts again from the top.

/// The check, shared by both entry points: `$name` jumps to `$body`.
macro_rules! zero_timeout_entry {
    ($name:literal, $body:path) => {
        core::arch::global_asm!(
            concat!(".pushsection .text.", $name, ",\"ax\",@progbits"),
            concat!(".globl ", $name),
            concat!(".type ", $name, ",@function"),
            ".p2align 4",
            concat!($name, ":"),
            // Not NULL, and the most recently created context? (rdi: ctx)
            "test rdi, rdi",
            "jz {body}",
            "mov rax, qword ptr [rip + {recent}]",
            "cmp rdi, qword ptr [rax + {ctx}]",
            "jne {body}",
            crate::rseq::enter_section!(concat!(".L", $name, "_cs"), "{body}"),
            concat!(".L", $name, "_start:"),
            // Still live, now inside the sequence?
            "cmp rdi, qword ptr [rax + {ctx}]",
            "jne {body}",
            // A timeout at all? (r8: timeout; NULL, or an address in the
            // kernel's half, is left to the body and the kernel)
            "test r8, r8",
            "jle {body}",
            // The kernel's ring, and empty? (magic at 16, head at 8, tail at 12)
            "cmp dword ptr [rdi + 16], {magic}",
            "jne {body}",
            "mov r10d, dword ptr [rdi + 8]",
            "cmp r10d, dword ptr [rdi + 12]",
            "jne {body}",
            // Nothing reaped ahead by io_queue_run?
            "mov r10, qword ptr [rax + {stash_head}]",
            "cmp r10, qword ptr [rax + {stash_tail}]",
            "jne {body}",
            // A timeout of exactly zero? Read last: with completions waiting,
            // a bad timeout is the kernel's to refuse.
            "mov r10, qword ptr [r8]",
            "or r10, qword ptr [r8 + 8]",
            "jne {body}",
            concat!(".L", $name, "_post:"),
            "xor eax, eax",
            "ret",
            ".long {signature}",
            concat!(".L", $name, "_abort:"),
            concat!("jmp ", $name),
            concat!(".size ", $name, ", . - ", $name),
            ".popsection",
            crate::rseq::descriptor!(
                concat!(".L", $name, "_cs"),
                concat!(".L", $name, "_start"),
                concat!(".L", $name, "_post"),
                concat!(".L", $name, "_abort")
            ),
            recent = sym crate::registry::RECENT,
            body = sym $body,
            offset = sym crate::rseq::OFFSET,
            cpu_id = const crate::rseq::CPU_ID,
            rseq_cs = const crate::rseq::RSEQ_CS,
            ctx = const crate::registry::CTX_OFFSET,
            stash_head = const crate::registry::STASH_HEAD_OFFSET,
            stash_tail = const crate::registry::STASH_TAIL_OFFSET,
            magic = const crate::ring::AIO_RING_MAGIC,
            signature = const crate::rseq::SIGNATURE,
        );
    };
}

zero_timeout_entry!("io_getevents", crate::exports::io_getevents);
zero_timeout_entry!("io_pgetevents", crate::exports::io_pgetevents);
