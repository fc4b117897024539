//! The storage of the ring: a sequence stamp and room for one value per
//! position.
//!
//! The stamp says who may touch the value and when; see the
//! [ring module](crate::ring) for its encoding. This file holds the raw
//! accesses to the value; the ring decides when they are allowed. The ring
//! keeps each stamp next to its value ([`Slot`]) on hosted targets, or all
//! stamps in one array and all values in another on bare-metal targets,
//! where that saves the padding between a one-byte stamp and a value.

use core::mem::MaybeUninit;

pub(crate) mod task;

use crate::loom::{AtomicU8, UnsafeCell};

/// A sequence stamp plus storage for one `T`.
#[allow(dead_code)] // Unused by the compact layout.
pub(crate) struct Slot<T> {
    /// Encodes the lap and whether the slot is free or holds a value.
    pub(crate) stamp: AtomicU8,
    /// Initialized exactly while the stamp says "holds a value".
    pub(crate) value: Value<T>,
}

#[allow(dead_code)] // Unused by the compact layout.
impl<T> Slot<T> {
    crate::loom::loom_const_fn! {
        /// An empty slot whose stamp starts at `stamp`.
        pub(crate) fn new(stamp: u8) -> Self {
            Self {
                stamp: AtomicU8::new(stamp),
                value: Value::new(),
            }
        }
    }
}

/// Storage for one `T`, initialized exactly while its stamp says "holds a
/// value".
pub(crate) struct Value<T>(UnsafeCell<MaybeUninit<T>>);

// SAFETY: A value cell hands its value from the context that wrote it to
// the one that reads it, so sharing `&Value<T>` between threads moves `T`
// between threads: that needs `T: Send` and nothing more. No two contexts
// access the value at once, because the ring grants each access to exactly
// one context through the stamp protocol, so `T: Sync` is not needed.
unsafe impl<T: Send> Sync for Value<T> {}

// === impl Value ===

impl<T> Value<T> {
    crate::loom::loom_const_fn! {
        /// Room for one value, holding none.
        pub(crate) fn new() -> Self {
            Self(UnsafeCell::new(MaybeUninit::uninit()))
        }
    }

    /// Moves `value` into the slot.
    ///
    /// # Safety
    ///
    /// The caller must have claimed this slot for writing: no other context
    /// reads or writes the value until the caller publishes it through the
    /// stamp, and the slot holds no initialized value (it would be leaked,
    /// which is safe but a bug).
    #[inline(always)]
    pub(crate) unsafe fn write(&self, value: T) {
        self.0.with_mut(|ptr| {
            // SAFETY: The caller guarantees exclusive access to the cell, so
            // writing through the pointer races with nothing. `ptr` comes
            // from a live `UnsafeCell` and is valid and aligned.
            unsafe { ptr.write(MaybeUninit::new(value)) }
        });
    }

    /// Moves the value out of the slot, leaving it logically empty.
    ///
    /// # Safety
    ///
    /// The caller must have claimed this slot for reading: the slot holds an
    /// initialized value, published to the caller with a happens-before edge
    /// (the stamp's `Release`/`Acquire` pair), and no other context reads or
    /// writes it until the caller frees the slot through the stamp. After the
    /// call the value must be treated as uninitialized.
    #[inline(always)]
    pub(crate) unsafe fn read(&self) -> T {
        self.0.with(|ptr| {
            // SAFETY: The caller guarantees that nobody else touches the
            // value until the slot is freed, so this read moves it out
            // exactly once. `ptr` is valid and aligned.
            let value = unsafe { ptr.read() };
            // SAFETY: The caller guarantees that the value is initialized.
            unsafe { value.assume_init() }
        })
    }
}
