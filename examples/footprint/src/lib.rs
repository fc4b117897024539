//! What `scripts/footprint.sh` measures: the RAM of a ring and of a pool
//! next to heapless's `mpmc::Queue` of the same capacity, and the flash of
//! `try_push` + `try_pop`.
//!
//! Every measured object is a `#[no_mangle]` static and every measured
//! operation a `#[no_mangle]` wrapper, so the script reads their sizes from
//! the symbol table. A wrapper inlines what the library inlines; what it
//! calls out of line (taskring's shared push/pop body on bare-metal CAS
//! targets) is counted by the script as well, once. The critical-section
//! implementation (`_critical_section_1_0_acquire` / `_release`) belongs to
//! the application and is not counted.
#![no_std]

use taskring::{Job, Pool, Ring};

/// The job of the pool comparison: a small user enum (4 bytes, aligned to
/// 2), the kind of job an interrupt handler submits.
pub enum Work {
    /// A sample to process.
    Sample(u16),
    /// Flush what was processed.
    Flush,
}

impl Job for Work {
    fn run(self) {
        match self {
            Work::Sample(value) => core::hint::black_box(value),
            Work::Flush => core::hint::black_box(0),
        };
    }
}

/// `Ring<u32, 16>`, whose push and pop are measured.
#[no_mangle]
pub static TASKRING_RING: Ring<u32, 16> = Ring::new();

/// heapless's queue of the same type and capacity.
#[expect(deprecated, reason = "the comparison is heapless's deprecated queue")]
#[no_mangle]
pub static HEAPLESS_QUEUE: heapless::mpmc::Queue<u32, 16> = heapless::mpmc::Queue::new();

/// A pool of 32 jobs drained by `run_pending` (no workers).
#[no_mangle]
pub static TASKRING_POOL: Pool<Work, 32, 0> = Pool::new();

/// heapless's queue of the same jobs and capacity.
#[expect(deprecated, reason = "the comparison is heapless's deprecated queue")]
#[no_mangle]
pub static HEAPLESS_WORK_QUEUE: heapless::mpmc::Queue<Work, 32> = heapless::mpmc::Queue::new();

/// `Ring::try_push`.
#[no_mangle]
pub extern "C" fn taskring_try_push(value: u32) -> bool {
    TASKRING_RING.try_push(value).is_ok()
}

/// `Ring::try_pop`; writes the value to `out`.
#[no_mangle]
pub extern "C" fn taskring_try_pop(out: &mut u32) -> bool {
    match TASKRING_RING.try_pop() {
        Ok(value) => {
            *out = value;
            true
        }
        Err(_) => false,
    }
}

/// `heapless::mpmc::Queue::enqueue`.
#[no_mangle]
pub extern "C" fn heapless_enqueue(value: u32) -> bool {
    HEAPLESS_QUEUE.enqueue(value).is_ok()
}

/// `heapless::mpmc::Queue::dequeue`; writes the value to `out`.
#[no_mangle]
pub extern "C" fn heapless_dequeue(out: &mut u32) -> bool {
    match HEAPLESS_QUEUE.dequeue() {
        Some(value) => {
            *out = value;
            true
        }
        None => false,
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
