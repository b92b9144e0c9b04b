#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: fuzz/corpus/<target>/<scenario>.

Each seed is a sequence of calls encoded the way src/lib.rs decodes its
input (one byte picks the call, the next bytes its arguments, in the order
the harness reads them). Both targets get the same seeds. The fuzzer starts
from these and grows its own corpus elsewhere (scripts/fuzz keeps it under
fuzz/corpus-work/, which git ignores).

Run `fuzz/make-seeds.py` after changing how the harness reads its input;
`LIBAIO_RS_FUZZ_TRACE=1 cargo +nightly fuzz run calls fuzz/corpus/calls/NAME`
shows what a seed does.
"""

import os
import struct

TARGETS = ["calls", "calls_user_reap"]

# Call selectors (input byte % 18 in run()).
SETUP, QUEUE_INIT, DESTROY, RELEASE, SUBMIT = 0, 2, 3, 4, 5
GETEVENTS, PGETEVENTS, GETEVENTS_0_1 = 8, 10, 11
CANCEL, CANCEL_0_1, QUEUE_RUN, QUEUE_WAIT, PIPE, DRAIN = 12, 13, 14, 15, 16, 17

# Opcode menu indexes in build_iocb().
PREAD, PWRITE, FSYNC, POLL, PREADV, PWRITEV = 0, 1, 4, 6, 8, 9
# Descriptor indexes in Fixture::fds.
DIRECT, BUFFERED, PIPE_READ = 0, 1, 3


def u32(v):
    return list(struct.pack("<I", v))


def u64(v):
    return list(struct.pack("<Q", v))


def live(i=0):
    """context(): the i-th live context."""
    return [0, i]


def stale(i=0):
    """context(): the i-th destroyed, reserved context."""
    return [6, i]


NULL_CTX = [8]
FAKE_RING = [10]


def setup(maxevents=8, queue_init=False, garbage_handle=False):
    kind = 4 if garbage_handle else 0
    return [QUEUE_INIT if queue_init else SETUP, 1] + u32(maxevents - 1) + [kind] + u64(0x1234)


def destroy(ctx, reserve=True, release=False):
    """io_destroy; a live context right away, its address then reserved
    (`reserve`), or in the background."""
    return [RELEASE if release else DESTROY] + ctx + [7 if reserve else 0]


def buffer_page(pages=1):
    """buffer(): `pages` pages at the start of the buffers."""
    return [0, 1, pages, 0]


def iocb(opcode, fd=DIRECT, callback=True, block=0, pages=1):
    body = [opcode, 1, fd, 1 if callback else 0]
    if opcode in (PREAD, PWRITE):
        body += buffer_page(pages) + [1] + u32(block)
    elif opcode in (PREADV, PWRITEV):
        body += [1, 2] + buffer_page(1) + buffer_page(2) + [1] + u32(block)
    elif opcode == POLL:
        body += [0]  # POLLIN
    return body + [0]  # no extras


def submit(ctx, *iocbs):
    """io_submit of the given iocbs (pool slots 0, 1, ...), nr = all."""
    out = [SUBMIT] + ctx + [1, len(iocbs)]
    for slot, body in enumerate(iocbs):
        out += [1, slot] + body
    return out + [2]


def getevents(ctx, nr=16, min_nr=1, selector=GETEVENTS, timeout_zero=True, mask=False):
    out = [selector] + ctx + [1, 1, nr]
    if selector != GETEVENTS_0_1:
        out += [{0: 0, 1: 3, "nr": 4}[min_nr]]
    out += [0] if timeout_zero else [5] + u32(100_000)
    out += [2] + u64(0x200) if mask else [0]  # a mask blocking SIGUSR1, or none
    return out


def queue_run(ctx):
    return [QUEUE_RUN] + ctx


def queue_wait(ctx, compat=False):
    return [QUEUE_WAIT, 0 if compat else 1] + ctx + [0]


def cancel(ctx, slot=0, compat=False):
    # The result byte is read for both (the compat call ignores it).
    return [CANCEL_0_1 if compat else CANCEL] + ctx + [1, slot, 1]


def pipe_write():
    return [PIPE, 0, 0]


def drain(i=0):
    return [DRAIN, i]


SEEDS = {
    # Writes, then reads back, reaped by io_getevents.
    "write-read-reap": setup(8)
    + submit(live(), iocb(PWRITE, block=0), iocb(PWRITE, block=1, pages=2))
    + getevents(live(), nr=16, min_nr=1)
    + submit(live(), iocb(PREAD, block=0), iocb(PREADV, block=4))
    + getevents(live(), nr=1, min_nr=1)
    + getevents(live(), nr=16, min_nr=0)
    + destroy(live()),
    # io_queue_init over a garbage handle, callbacks and a NULL one.
    "queue-run": setup(4, queue_init=True, garbage_handle=True)
    + submit(
        live(),
        iocb(PREAD, callback=True),
        iocb(PREAD, callback=False, block=2),
        iocb(PWRITEV, callback=True, block=8),
    )
    + queue_wait(live())
    + queue_run(live())
    + queue_run(live())
    + destroy(live(), release=True),
    # A destroyed context, kept reserved, used again.
    "stale-handle": setup(1)
    + destroy(live(), reserve=True)
    + getevents(stale(), min_nr=0)
    + getevents(stale(), selector=PGETEVENTS)
    + submit(stale(), iocb(PREAD))
    + queue_wait(stale(), compat=True)
    + queue_run(stale())
    + destroy(stale()),
    # A poll on the pipe: cancelled, re-armed, completed by a write.
    "poll-cancel": setup(8)
    + submit(live(), iocb(POLL, fd=PIPE_READ))
    + getevents(live(), min_nr=1, timeout_zero=False)
    + cancel(live(), slot=0)
    + getevents(live(), min_nr=1, timeout_zero=False)
    + submit(live(), iocb(POLL, fd=PIPE_READ))
    + cancel(live(), slot=0, compat=True)
    + pipe_write()
    + submit(live(), iocb(POLL, fd=PIPE_READ))
    + drain()
    + getevents(live(), selector=GETEVENTS_0_1, timeout_zero=False),
    # Handles that are no context: NULL, a page shaped like an empty ring.
    "bogus-handles": getevents(NULL_CTX, min_nr=0)
    + getevents(FAKE_RING, min_nr=0)
    + getevents(FAKE_RING, selector=PGETEVENTS, mask=True)
    + queue_wait(FAKE_RING)
    + queue_run(FAKE_RING)
    + cancel(FAKE_RING)
    + destroy(FAKE_RING),
}


def wrap_seed():
    """Two contexts; 12 rounds of 16 writes on the first (io_setup(1): a ring
    of 127 events, which wraps), reaped 16 at a time, and io_pgetevents with
    a mask on the second."""
    out = setup(1) + setup(2)
    for i in range(12):
        out += submit(live(0), *[iocb(PWRITE, block=(16 * i + k) % 256) for k in range(16)])
        out += getevents(live(0), nr=16, min_nr="nr", selector=PGETEVENTS if i % 3 == 0 else GETEVENTS, mask=i % 2 == 0)
        out += submit(live(1), iocb(PREAD, block=i))
        out += getevents(live(1), nr=2, min_nr=1, selector=PGETEVENTS, mask=True)
    return out + queue_run(live(0)) + drain(1)


SEEDS["two-rings-wrap"] = wrap_seed()


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    for target in TARGETS:
        directory = os.path.join(root, target)
        os.makedirs(directory, exist_ok=True)
        for name, seed in SEEDS.items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(bytes(seed))
    print(f"{len(SEEDS)} seeds in {root}/{{{','.join(TARGETS)}}}")


if __name__ == "__main__":
    main()
