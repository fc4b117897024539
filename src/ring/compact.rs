//! The compact layout: all stamps in one byte array, all values in
//! another, and no padding anywhere.
//!
//! Chosen on bare-metal targets (`target_os = "none"`) unless the
//! `cache-padded` feature asks for the hosted layout. A core without a data
//! cache, or a single core, gains nothing from padding, and keeping the
//! one-byte stamps apart from the values saves the alignment padding that
//! a stamp next to each value would need. `Ring<u32, 16>` takes 88 bytes
//! on a 32-bit target (hosted layout with 32-byte lines: 192).
//!
//! `--cfg taskring_compact` selects this layout on any target, so that the
//! host test suite and the loom models cover it too.

use core::{
    fmt,
    ops::{Deref, DerefMut},
};

use crate::{
    loom::{repeat, AtomicU8},
    slot::Value,
};

/// The stamps and values of a ring of `N` slots.
pub(super) struct Storage<T, const N: usize> {
    stamps: [AtomicU8; N],
    values: [Value<T>; N],
}

impl<T, const N: usize> Storage<T, N> {
    crate::loom::loom_const_fn! {
        /// `N` empty slots, every stamp `stamp`.
        pub(super) fn new(stamp: u8) -> Self {
            let mut stamps = core::mem::MaybeUninit::<[AtomicU8; N]>::uninit();
            let first = stamps.as_mut_ptr().cast::<AtomicU8>();
            let mut index = 0;
            while index < N {
                // SAFETY: `index < N`, so `first.add(index)` stays inside the
                // array that `stamps` has room for.
                let element = unsafe { first.add(index) };
                // SAFETY: `element` points into `stamps` (above) and is
                // aligned; writing initializes it without dropping anything.
                unsafe { element.write(AtomicU8::new(stamp)) };
                index += 1;
            }
            Self {
                // SAFETY: The loop above initialized all `N` elements.
                stamps: unsafe { stamps.assume_init() },
                values: repeat!(Value::new(); N),
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
        // SAFETY: The caller guarantees `index < N`, the length of both
        // arrays.
        let stamp = unsafe { self.stamps.get_unchecked(index) };
        // SAFETY: As above.
        let value = unsafe { self.values.get_unchecked(index) };
        (stamp, value)
    }
}

/// A stand-in for `crossbeam_utils::CachePadded` with the same API that
/// pads nothing: the value itself, with its own size and alignment.
#[derive(Default, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub(crate) struct CachePadded<T>(T);

impl<T> CachePadded<T> {
    /// Wraps `value`.
    pub(crate) const fn new(value: T) -> Self {
        Self(value)
    }
}

impl<T> Deref for CachePadded<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for CachePadded<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for CachePadded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachePadded")
            .field("value", &self.0)
            .finish()
    }
}
