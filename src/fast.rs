//! x86_64 entry points of io_getevents and io_pgetevents that answer the
//! hottest call of all, a zero-timeout poll of an empty ring, in a few
//! instructions, without touching the stack or making any atomic
//! read-modify-write. Every other call jumps, with its arguments untouched,
//! to the Rust functions in `exports`, which do the whole job.
//!
//! They are what the exported symbols name on x86_64; the Rust functions keep
//! their C names in the source (for the header) but are linked under
//! `__libaio_io_getevents_body` and `__libaio_io_pgetevents_body`.
//!
//! # Safety
//!
//! In a process with a single thread (glibc's `__libc_single_threaded`), the
//! check compares the handle with the registry's fast word (the registry's
//! own memory, always mapped), which names a context only while it is live
//! and has nothing reaped ahead (`registry::Live::arm_fast`), and only then
//! reads the ring: with one thread nothing can destroy the context or fill
//! its stash between that comparison and the reads (a signal handler doing
//! so while the code it interrupted reads is the program's error, as with
//! libaio).
//!
//! With several threads it compares the handle with the registry's `RECENT`
//! entry (the most recently created context, in hazards mode) and the reads
//! follow the registry's hazard protocol (see `registry`): the handle is
//! published in the calling thread's slot (its first hazard word, used only
//! when it is free, so that a signal handler interrupting this code takes the
//! Rust path instead of overwriting it), then the entry must still hold it,
//! and only then are the ring and the entry's stash read; the hazard is
//! withdrawn before returning. An `io_destroy` in another thread clears the
//! entry, then waits for the hazard.
//!
//! Either way the timeout is read only when it is not NULL, not in the
//! kernel's half of the address space, and the context is live with an
//! empty ring and nothing reaped ahead, where libaio's check reads it too.

/// The check, shared by both entry points: `$name` jumps to `$body`.
/// Clobbers rax, r10 and r11 only (r9 is io_pgetevents' signal mask).
macro_rules! zero_timeout_entry {
    ($name:literal, $body:path) => {
        core::arch::global_asm!(
            concat!(".pushsection .text.", $name, ",\"ax\",@progbits"),
            concat!(".globl ", $name),
            concat!(".type ", $name, ",@function"),
            // The single-threaded path fits one 64-byte cache line from
            // here (its branches are short: to `_body` below), which the
            // processor then runs in fewer cycles.
            ".p2align 6",
            concat!($name, ":"),
            // Not NULL, and a timeout to look at? (rdi: ctx, r8: timeout;
            // NULL, or an address in the kernel's half, is left to the body
            // and the kernel.)
            "test rdi, rdi",
            concat!("jz .L", $name, "_body"),
            "test r8, r8",
            concat!("jle .L", $name, "_body"),
            // Several threads: the hazard protocol below.
            "mov r10, qword ptr [rip + {single}]",
            "cmp byte ptr [r10], 0",
            concat!("je .L", $name, "_threads"),
            // One thread: the context the registry's fast word names (live,
            // nothing reaped ahead: see `registry::Live::arm_fast`)? The
            // kernel's ring, and empty (magic at 16, head at 8, tail at 12)?
            // A timeout of exactly zero, read last: with completions
            // waiting, a bad timeout is the kernel's to refuse.
            "cmp rdi, qword ptr [rip + {wiped} + {fast}]",
            concat!("jne .L", $name, "_body"),
            "cmp dword ptr [rdi + 16], {magic}",
            concat!("jne .L", $name, "_body"),
            "mov r10d, dword ptr [rdi + 8]",
            "cmp r10d, dword ptr [rdi + 12]",
            concat!("jne .L", $name, "_body"),
            "mov r10, qword ptr [r8]",
            "or r10, qword ptr [r8 + 8]",
            concat!("jnz .L", $name, "_body"),
            "xor eax, eax",
            "ret",
            concat!(".L", $name, "_body:"),
            "jmp {body}",
            concat!(".L", $name, "_threads:"),
            // The most recently created context?
            "mov rax, qword ptr [rip + {recent}]",
            "cmp rdi, qword ptr [rax + {ctx}]",
            "jne {body}",
            // This thread's slot (r11 = its first hazard word): the one its
            // thread pointer (r10) hashes to, if it owns it and the word is
            // free; otherwise the Rust path finds it.
            "mov r10, qword ptr fs:[0]",
            "imul r11, r10, {golden}",
            "shr r11, {shift}",
            "lea rax, [rip + {wiped}]",
            "cmp r10, qword ptr [rax + r11 * 8 + {owners}]",
            "jne {body}",
            "lea r11, [rax + r11 * 8 + {first}]",
            "cmp qword ptr [r11], 0",
            "jne {body}",
            // Publish, then check the entry again.
            "mov qword ptr [r11], rdi",
            "mov rax, qword ptr [rip + {recent}]",
            "cmp rdi, qword ptr [rax + {ctx}]",
            concat!("jne .L", $name, "_withdraw"),
            "cmp dword ptr [rdi + 16], {magic}",
            concat!("jne .L", $name, "_withdraw"),
            "mov r10d, dword ptr [rdi + 8]",
            "xor r10d, dword ptr [rdi + 12]",
            concat!("jnz .L", $name, "_withdraw"),
            "mov r10, qword ptr [rax + {stash_head}]",
            "cmp r10, qword ptr [rax + {stash_tail}]",
            concat!("jne .L", $name, "_withdraw"),
            "mov r10, qword ptr [r8]",
            "or r10, qword ptr [r8 + 8]",
            concat!("jnz .L", $name, "_withdraw"),
            "mov qword ptr [r11], 0",
            "xor eax, eax",
            "ret",
            concat!(".L", $name, "_withdraw:"),
            "mov qword ptr [r11], 0",
            "jmp {body}",
            concat!(".size ", $name, ", . - ", $name),
            ".popsection",
            body = sym $body,
            wiped = sym crate::registry::WIPED,
            recent = sym crate::registry::RECENT,
            single = sym crate::process::SINGLE_THREADED,
            golden = const crate::registry::GOLDEN as i64 as i32,
            shift = const crate::registry::THREAD_SHIFT,
            owners = const crate::registry::OWNERS_OFFSET,
            first = const crate::registry::FIRST_OFFSET,
            ctx = const crate::registry::CTX_OFFSET,
            fast = const crate::registry::FAST_OFFSET,
            stash_head = const crate::registry::STASH_HEAD_OFFSET,
            stash_tail = const crate::registry::STASH_TAIL_OFFSET,
            magic = const crate::ring::AIO_RING_MAGIC,
        );
    };
}

zero_timeout_entry!("io_getevents", crate::exports::io_getevents);
zero_timeout_entry!("io_pgetevents", crate::exports::io_pgetevents);
