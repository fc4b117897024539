//! Test-only fault injection: a callback run at fixed points inside ring
//! operations, to stall a context between claim and publish or to re-enter
//! the ring from inside an operation, as an interrupt handler would.
//!
//! Compiled only with the hidden `__test_hooks` feature. Not public API.

use core::{
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};

/// A point inside a ring operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The start of one counted attempt of a `try_*` loop. Counting these
    /// bounds the steps of one call. The retry after a spurious failure of
    /// the weak claim compare-and-swap (possible on load-linked /
    /// store-conditional cores, and simulated by Miri) is not counted and
    /// fires none.
    Attempt,
    /// A push has claimed its slot and not yet written or published it.
    PushClaimed,
    /// A pop has claimed its slot and not yet read or freed it.
    PopClaimed,
    /// `len` (compare-and-swap backend) has read `tail` and then `head`,
    /// and is about to read `tail` again: once per attempt.
    LenRead,
}

/// A hook: the event and the address of the ring it happened on.
pub type Hook = fn(Event, usize);

/// The installed hook as a pointer (null = none), which keeps the function
/// pointer's provenance. Not a loom atomic: the hooks are not part of the
/// modelled algorithm.
static HOOK: AtomicPtr<()> = AtomicPtr::new(ptr::null_mut());

/// Installs `hook` for every ring in the process, or removes it.
pub fn set(hook: Option<Hook>) {
    // Release: pairs with the `Acquire` in `fire`, so the hook's own setup
    // is visible to the contexts that call it.
    HOOK.store(
        hook.map_or(ptr::null_mut(), |f| f as *const () as *mut ()),
        Ordering::Release,
    );
}

/// Calls the installed hook, if any.
pub(crate) fn fire(event: Event, ring: usize) {
    // Acquire: pairs with the `Release` in `set`.
    let raw = HOOK.load(Ordering::Acquire);
    if !raw.is_null() {
        // SAFETY: Non-null values of `HOOK` are only ever stored by `set`,
        // from a valid `Hook` function pointer of exactly this type, and
        // function pointers live for the whole program.
        let hook = unsafe { core::mem::transmute::<*mut (), Hook>(raw) };
        hook(event, ring);
    }
}
