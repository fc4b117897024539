//! Atomics for targets without compare-and-swap (thumbv6m, riscv32imc),
//! and for host tests of that backend (`--cfg taskring_force_cs`): loads
//! are plain atomic loads, and every store and read-modify-write runs in
//! one critical section. `crate::loom` re-exports them in place of the
//! native ones, so the algorithms use them unchanged.

use core::marker::PhantomData;

use crate::loom::{base, critical_section, loom_const_fn, Ordering};

/// Proof that the holder runs inside [`critical`]. It cannot escape the
/// closure, because the closure is generic over its lifetime.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsToken<'cs>(PhantomData<&'cs ()>);

/// Runs `f` in a critical section: no interrupt handler and no other
/// core runs a critical section of this program meanwhile.
#[inline]
pub(crate) fn critical<R>(f: impl FnOnce(CsToken<'_>) -> R) -> R {
    critical_section(|| f(CsToken(PhantomData)))
}

/// The load half of a read-modify-write with ordering `order`.
const fn load_part(order: Ordering) -> Ordering {
    match order {
        Ordering::Acquire | Ordering::AcqRel => Ordering::Acquire,
        Ordering::SeqCst => Ordering::SeqCst,
        _ => Ordering::Relaxed,
    }
}

/// The store half of a read-modify-write with ordering `order`.
const fn store_part(order: Ordering) -> Ordering {
    match order {
        Ordering::Release | Ordering::AcqRel => Ordering::Release,
        Ordering::SeqCst => Ordering::SeqCst,
        _ => Ordering::Relaxed,
    }
}

/// The stronger of two load orderings.
const fn stronger(a: Ordering, b: Ordering) -> Ordering {
    match (a, b) {
        (Ordering::SeqCst, _) | (_, Ordering::SeqCst) => Ordering::SeqCst,
        (Ordering::Acquire, _) | (_, Ordering::Acquire) => Ordering::Acquire,
        _ => Ordering::Relaxed,
    }
}

/// An `AtomicUsize` with the usual method signatures for targets that
/// only have atomic loads and stores.
///
/// Loads are plain atomic loads. Every read-modify-write is a load and
/// a store inside one [`critical`] section. Stores also take a critical
/// section, so that on a multi-core implementation (a spinlock between
/// cores) no store lands between the load and the store of another
/// core's read-modify-write. Code that already holds a critical section
/// uses [`store_in`](Self::store_in) instead of nesting a second one.
#[repr(transparent)]
pub(crate) struct AtomicUsize(base::AtomicUsize);

#[allow(dead_code)] // Some methods are used by only one backend.
impl AtomicUsize {
    loom_const_fn! {
        pub(crate) fn new(value: usize) -> Self {
            Self(base::AtomicUsize::new(value))
        }
    }

    #[inline]
    pub(crate) fn load(&self, order: Ordering) -> usize {
        self.0.load(order)
    }

    #[inline]
    pub(crate) fn store(&self, value: usize, order: Ordering) {
        critical(|_| self.0.store(value, order));
    }

    /// A plain store by a caller that already holds a critical section.
    #[inline]
    pub(crate) fn store_in(&self, value: usize, order: Ordering, _: CsToken<'_>) {
        self.0.store(value, order);
    }

    /// Replaces the value with `f(old)` in one critical section and
    /// returns `old`.
    #[inline]
    fn update(&self, order: Ordering, f: impl FnOnce(usize) -> usize) -> usize {
        critical(|_| {
            let old = self.0.load(load_part(order));
            self.0.store(f(old), store_part(order));
            old
        })
    }

    #[inline]
    pub(crate) fn swap(&self, value: usize, order: Ordering) -> usize {
        self.update(order, |_| value)
    }

    #[inline]
    pub(crate) fn fetch_add(&self, value: usize, order: Ordering) -> usize {
        self.update(order, |old| old.wrapping_add(value))
    }

    #[inline]
    pub(crate) fn fetch_sub(&self, value: usize, order: Ordering) -> usize {
        self.update(order, |old| old.wrapping_sub(value))
    }

    #[inline]
    pub(crate) fn fetch_or(&self, value: usize, order: Ordering) -> usize {
        self.update(order, |old| old | value)
    }

    #[inline]
    pub(crate) fn fetch_and(&self, value: usize, order: Ordering) -> usize {
        self.update(order, |old| old & value)
    }

    #[inline]
    pub(crate) fn fetch_max(&self, value: usize, order: Ordering) -> usize {
        self.update(order, |old| old.max(value))
    }

    /// Replaces the value with `f(old)` unless `f` returns `None`, in one
    /// critical section (so `f` runs once), and returns `old`.
    ///
    /// # Errors
    ///
    /// `old`, when `f` returned `None`.
    #[inline]
    pub(crate) fn fetch_update(
        &self,
        set_order: Ordering,
        fetch_order: Ordering,
        mut f: impl FnMut(usize) -> Option<usize>,
    ) -> Result<usize, usize> {
        critical(|_| {
            let old = self.0.load(stronger(load_part(set_order), fetch_order));
            match f(old) {
                Some(new) => {
                    self.0.store(new, store_part(set_order));
                    Ok(old)
                }
                None => Err(old),
            }
        })
    }

    /// # Errors
    ///
    /// The current value, when it is not `current`.
    #[inline]
    pub(crate) fn compare_exchange(
        &self,
        current: usize,
        new: usize,
        success: Ordering,
        failure: Ordering,
    ) -> Result<usize, usize> {
        critical(|_| {
            let old = self.0.load(stronger(load_part(success), failure));
            if old == current {
                self.0.store(new, store_part(success));
                Ok(old)
            } else {
                Err(old)
            }
        })
    }
}

impl core::fmt::Debug for AtomicUsize {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.load(Ordering::Relaxed).fmt(f)
    }
}
