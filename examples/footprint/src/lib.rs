//! `#[no_mangle]` wrappers around the operations whose code size
//! `scripts/footprint.sh` measures. Each wrapper inlines the whole operation,
//! so the size of its symbol is the size of the operation. The
//! critical-section implementation (`_critical_section_1_0_acquire` /
//! `_release`) belongs to the application and is not counted.
#![no_std]

use taskring::Ring;

static RING: Ring<u32, 16> = Ring::new();

#[expect(deprecated, reason = "the comparison is heapless's deprecated queue")]
static QUEUE: heapless::mpmc::Queue<u32, 16> = heapless::mpmc::Queue::new();

/// `Ring::try_push`.
#[no_mangle]
pub extern "C" fn taskring_try_push(value: u32) -> bool {
    RING.try_push(value).is_ok()
}

/// `Ring::try_pop`; writes the value to `out`.
#[no_mangle]
pub extern "C" fn taskring_try_pop(out: &mut u32) -> bool {
    match RING.try_pop() {
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
    QUEUE.enqueue(value).is_ok()
}

/// `heapless::mpmc::Queue::dequeue`; writes the value to `out`.
#[no_mangle]
pub extern "C" fn heapless_dequeue(out: &mut u32) -> bool {
    match QUEUE.dequeue() {
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
