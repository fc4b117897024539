//! The one switch between real and model-checked concurrency primitives.
//!
//! Every atomic, cell, spin hint and backoff used by the algorithms in this
//! crate comes from here. Under `--cfg loom` each maps to its [`loom`] twin,
//! so loom explores every interleaving of our code, including from a
//! downstream crate's own loom models. This is the only file under `src/`
//! that mentions `cfg(loom)`.
//!
//! Both sides expose identical signatures, including loom's closure-based
//! [`UnsafeCell`] access, so algorithm code compiles unchanged against either.
//!
//! [`loom`]: https://docs.rs/loom

#[cfg(loom)]
pub(crate) use self::model::*;
#[cfg(not(loom))]
pub(crate) use self::real::*;

/// Emits `const fn` in normal builds and a plain `fn` under loom, whose
/// atomics cannot be built in const context.
macro_rules! loom_const_fn {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident($($arg:ident: $T:ty),*) -> $Ret:ty $body:block
    ) => {
        $(#[$meta])*
        #[cfg(not(loom))]
        $vis const fn $name($($arg: $T),*) -> $Ret $body

        $(#[$meta])*
        #[cfg(loom)]
        $vis fn $name($($arg: $T),*) -> $Ret $body
    };
}
pub(crate) use loom_const_fn;

#[cfg(not(loom))]
mod real {
    pub(crate) use core::sync::atomic::{AtomicUsize, Ordering};

    /// How many times one `try_*` call may lose a claim race (a failed
    /// compare-and-swap, each meaning another operation claimed first) before
    /// it gives up with `Busy`.
    pub(crate) const MAX_CLAIM_ATTEMPTS: usize = 16;

    /// [`core::cell::UnsafeCell`] behind loom's closure-based API.
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Calls `f` with a shared raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a unique raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// Exponential backoff for thread-context wait loops.
    ///
    /// Thin adapter over [`crossbeam_utils::Backoff`], so the loom side can
    /// replace every step with one `yield_now`.
    #[derive(Debug, Default)]
    pub(crate) struct Backoff(crossbeam_utils::Backoff);

    #[allow(dead_code)] // Used by the pool's idle strategies.
    impl Backoff {
        pub(crate) fn new() -> Self {
            Self(crossbeam_utils::Backoff::new())
        }
        /// Backs off in a lock-free retry loop.
        #[inline]
        pub(crate) fn spin(&self) {
            self.0.spin();
        }
        /// Backs off while waiting for another thread to make progress.
        #[inline]
        pub(crate) fn snooze(&self) {
            self.0.snooze();
        }
        /// True once backing off further is pointless and the caller should
        /// block (park, WFI) instead.
        #[inline]
        pub(crate) fn is_completed(&self) -> bool {
            self.0.is_completed()
        }
        pub(crate) fn reset(&self) {
            self.0.reset();
        }
    }
}

#[cfg(loom)]
mod model {
    pub(crate) use loom::{
        cell::UnsafeCell,
        sync::atomic::{AtomicUsize, Ordering},
    };

    /// Shrunk under loom so that a lost claim race is explored cheaply.
    pub(crate) const MAX_CLAIM_ATTEMPTS: usize = 2;

    /// Under loom every backoff step is exactly one `yield_now`: a spinning
    /// backoff exceeds loom's branch limit.
    #[derive(Debug, Default)]
    pub(crate) struct Backoff(core::cell::Cell<u32>);

    #[allow(dead_code)]
    impl Backoff {
        pub(crate) fn new() -> Self {
            Self(core::cell::Cell::new(0))
        }
        pub(crate) fn spin(&self) {
            self.step();
        }
        pub(crate) fn snooze(&self) {
            self.step();
        }
        pub(crate) fn is_completed(&self) -> bool {
            self.0.get() >= 2
        }
        pub(crate) fn reset(&self) {
            self.0.set(0);
        }
        fn step(&self) {
            self.0.set(self.0.get().saturating_add(1));
            loom::thread::yield_now();
        }
    }
}
