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

/// `[value; LEN]` for a value that is not `Copy`: a const repeat
/// expression normally, `array::from_fn` under loom (not const there).
#[cfg(not(loom))]
macro_rules! repeat {
    ($value:expr; $len:expr) => {
        [const { $value }; $len]
    };
}
#[cfg(loom)]
macro_rules! repeat {
    ($value:expr; $len:expr) => {
        core::array::from_fn(|_| $value)
    };
}
pub(crate) use repeat;

#[cfg(all(feature = "std", loom))]
pub(crate) use loom::thread_local;
/// Thread-locals: loom runs every modelled thread on one OS thread, so the
/// models need loom's own.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use std::thread_local;

/// Threads, parking, locks and shared ownership for the std thread pool.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) mod sync {
    pub(crate) use alloc::sync::Arc;
    pub(crate) use std::{
        sync::{Condvar, Mutex, MutexGuard},
        thread::{current, park, Builder, JoinHandle, Thread},
    };
}
/// Threads, parking, locks and shared ownership for the std thread pool.
#[cfg(all(feature = "std", loom))]
pub(crate) mod sync {
    pub(crate) use loom::{
        sync::{Arc, Condvar, Mutex, MutexGuard},
        thread::{current, park, Builder, JoinHandle, Thread},
    };
}

/// Whether the thread pool reads the clock for its lag metrics. Not under
/// loom: time would make the explored executions differ.
#[cfg(feature = "std")]
pub(crate) const THREAD_POOL_CLOCK: bool = !cfg!(loom);

/// A `SeqCst` load of `atomic`: on x86-64 a plain load, on AArch64 an
/// `ldar`. Loom treats `SeqCst` loads as `Acquire`, which would report
/// lost wake-ups that the real memory model rules out, so under loom it is
/// an RMW, which reads the latest value in the modification order.
#[inline]
pub(crate) fn load_sc(atomic: &AtomicUsize) -> usize {
    #[cfg(not(loom))]
    {
        atomic.load(Ordering::SeqCst)
    }
    #[cfg(loom)]
    {
        atomic.fetch_add(0, Ordering::SeqCst)
    }
}

#[cfg(not(loom))]
mod real {
    /// The pool's tick counters (`crate::pool::ticks`), where the target
    /// has 64-bit atomics.
    #[cfg(target_has_atomic = "64")]
    #[allow(unused_imports)] // Unused with `--cfg taskring_narrow_ticks`.
    pub(crate) use core::sync::atomic::AtomicU64;
    pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU8, AtomicUsize, Ordering};

    /// How many times one `try_*` call may lose a claim race (a failed
    /// compare-and-swap, each meaning another operation claimed first) before
    /// it gives up with `Busy`.
    pub(crate) const MAX_CLAIM_ATTEMPTS: usize = 16;

    /// Reads the latest value of `atomic` in its modification order, for
    /// the ring's full and empty checks.
    ///
    /// A `SeqCst` fence followed by a relaxed load: unlike a
    /// read-modify-write it leaves the cache line shared, so a consumer
    /// polling an empty ring does not take the producers' line away from
    /// them. The fence orders the load after everything this thread did
    /// before, as in crossbeam's `ArrayQueue`. Loom does not model this
    /// form, so under loom it is an RMW (see the other side).
    #[allow(dead_code)] // Unused by the critical-section backend.
    #[inline]
    pub(crate) fn load_latest(atomic: &AtomicUsize) -> usize {
        fence(Ordering::SeqCst);
        atomic.load(Ordering::Relaxed)
    }

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

    /// The waker of one task that waits on a pool (`async-drain`):
    /// `atomic-waker`'s `AtomicWaker`, which a `static` can hold
    /// (`const fn new`). With the `critical-section` feature it runs on
    /// `portable-atomic`, whose compare-and-swap is a critical section on
    /// targets without one.
    #[cfg(feature = "async-drain")]
    #[derive(Debug, Default)]
    pub(crate) struct WakerSlot(atomic_waker::AtomicWaker);

    #[cfg(feature = "async-drain")]
    impl WakerSlot {
        pub(crate) const fn new() -> Self {
            Self(atomic_waker::AtomicWaker::new())
        }

        /// Stores `waker` (a clone of it, unless it wakes the same task as
        /// the stored one). A `wake` racing with it wakes `waker`.
        #[inline]
        pub(crate) fn register(&self, waker: &core::task::Waker) {
            self.0.register(waker);
        }

        /// Takes the stored waker, if any, and wakes it.
        #[inline]
        pub(crate) fn wake(&self) {
            self.0.wake();
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
    /// The pool's tick counters (`crate::pool::ticks`), where the target
    /// has 64-bit atomics.
    #[allow(unused_imports)] // Unused with `--cfg taskring_narrow_ticks`.
    pub(crate) use loom::sync::atomic::AtomicU64;
    pub(crate) use loom::{
        cell::UnsafeCell,
        sync::atomic::{fence, AtomicU32, AtomicU8, AtomicUsize, Ordering},
    };

    /// Shrunk under loom so that a lost claim race is explored cheaply.
    pub(crate) const MAX_CLAIM_ATTEMPTS: usize = 2;

    /// An RMW always reads the latest value; loom models it exactly.
    #[allow(dead_code)]
    pub(crate) fn load_latest(atomic: &AtomicUsize) -> usize {
        atomic.fetch_add(0, Ordering::Relaxed)
    }

    /// Loom's model of an `AtomicWaker`, so the models explore the
    /// orders of registering and waking.
    #[cfg(feature = "async-drain")]
    #[derive(Debug, Default)]
    pub(crate) struct WakerSlot(loom::future::AtomicWaker);

    #[cfg(feature = "async-drain")]
    impl WakerSlot {
        pub(crate) fn new() -> Self {
            Self(loom::future::AtomicWaker::new())
        }

        pub(crate) fn register(&self, waker: &core::task::Waker) {
            self.0.register_by_ref(waker);
        }

        pub(crate) fn wake(&self) {
            self.0.wake();
        }
    }

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

// ===========================================================================
// Critical sections: targets without compare-and-swap
// ===========================================================================
//
// Selected on targets without pointer-sized CAS (thumbv6m, riscv32imc) and,
// for host tests, by `--cfg taskring_force_cs`. The atomics built on them
// live in `crate::cs_atomic`; the explicit re-exports below shadow the glob
// re-exports of the same names above, so every user of
// `crate::loom::AtomicUsize` transparently gets that version.

#[cfg(any(not(target_has_atomic = "ptr"), taskring_force_cs))]
pub(crate) use crate::cs_atomic::{critical, AtomicUsize};

/// What the critical-section atomics build on, which the re-export above
/// shadows: the real (or modelled) `AtomicUsize`.
#[cfg(any(not(target_has_atomic = "ptr"), taskring_force_cs))]
pub(crate) mod base {
    #[cfg(loom)]
    pub(crate) use super::model::AtomicUsize;
    #[cfg(not(loom))]
    pub(crate) use super::real::AtomicUsize;
}

/// Runs `f` with interrupts (and, on a multi-core part, the other cores'
/// critical sections) held off. Used by the critical-section atomics
/// (`crate::cs_atomic`) and by the pool's tick counts on targets without
/// 64-bit atomics (`crate::pool::ticks`).
#[cfg(all(not(loom), feature = "critical-section"))]
#[cfg_attr(
    all(target_has_atomic = "ptr", target_has_atomic = "64", not(taskring_force_cs)),
    allow(dead_code) // Neither user is built there.
)]
#[inline]
pub(crate) fn critical_section<R>(f: impl FnOnce() -> R) -> R {
    critical_section::with(|_| f())
}

/// Never part of a finished build: on a target without compare-and-swap,
/// building without the `critical-section` feature stops at `lib.rs`'s
/// `compile_error!`, which names the fix. This stub keeps that error the
/// only one reported.
#[cfg(all(
    not(loom),
    not(feature = "critical-section"),
    any(not(target_has_atomic = "ptr"), taskring_force_cs)
))]
pub(crate) fn critical_section<R>(_: impl FnOnce() -> R) -> R {
    unreachable!("taskring: the critical-section feature is off")
}

/// Under loom a critical section is one global loom `Mutex`, so the models
/// explore every order of whole critical sections.
#[cfg(loom)]
#[allow(dead_code)] // Used only by the critical-section atomics and tick counts.
pub(crate) fn critical_section<R>(f: impl FnOnce() -> R) -> R {
    loom::lazy_static! {
        static ref LOCK: loom::sync::Mutex<()> = loom::sync::Mutex::new(());
    }
    let _guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f()
}
