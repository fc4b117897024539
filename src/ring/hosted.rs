//! The hosted layout: each stamp next to its value, and `head` and `tail`
//! on cache lines of their own.
//!
//! Chosen on every target with an operating system, and on bare-metal
//! targets with the `cache-padded` feature (multi-core parts with data
//! caches). A push or pop touches one line for its stamp and value, and
//! the contexts that move `head` do not steal the line of those that move
//! `tail`.

use crate::{
    loom::AtomicU8,
    slot::{Slot, Value},
};

pub(crate) use crossbeam_utils::CachePadded;

/// The stamps and values of a ring of `N` slots, one [`Slot`] each.
pub(super) struct Storage<T, const N: usize> {
    slots: [Slot<T>; N],
}

impl<T, const N: usize> Storage<T, N> {
    crate::loom::loom_const_fn! {
        /// `N` empty slots, every stamp `stamp`.
        pub(super) fn new(stamp: u8) -> Self {
            let mut slots = core::mem::MaybeUninit::<[Slot<T>; N]>::uninit();
            let first = slots.as_mut_ptr().cast::<Slot<T>>();
            let mut index = 0;
            while index < N {
                // SAFETY: `index < N`, so `first.add(index)` stays inside the
                // array that `slots` has room for.
                let element = unsafe { first.add(index) };
                // SAFETY: `element` points into `slots` (above) and is
                // aligned; writing initializes it without dropping anything.
                unsafe { element.write(Slot::new(stamp)) };
                index += 1;
            }
            Self {
                // SAFETY: The loop above initialized all `N` elements.
                slots: unsafe { slots.assume_init() },
            }
        }
    }

    /// The stamp and the value of slot `index`.
    ///
    /// # Safety
    ///
    /// `index < N`.
    #[inline(always)]
    pub(super) unsafe fn get(&self, index: usize) -> (&AtomicU8, &Value<T>) {
        // SAFETY: The caller guarantees `index < N`.
        let slot = unsafe { self.slots.get_unchecked(index) };
        (&slot.stamp, &slot.value)
    }
}
