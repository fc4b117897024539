//! A work queue and worker pool for places where threads, heaps and locks
//! are scarce or forbidden (firmware, kernels, interrupt handlers), and,
//! with the `std` feature, for servers.
//!
//! - [`Ring`]: a fixed-capacity MPMC ring with a `const fn new`, whose
//!   `try_*` operations finish in a bounded number of steps and answer
//!   `Busy` instead of spinning on another context or reporting a false
//!   `Full`/`Empty`. See the [`ring`] module for the algorithm, every memory
//!   ordering, and the backends (compare-and-swap, or one critical section
//!   per operation on cores without it).
//! - [`Pool`]: `W` workers (cores, idle loops, interrupt handlers) over a
//!   ring of jobs, in an [`Env`] that gives it a clock, a wake-up and an
//!   event handler. Lossless stop, pause, overload events, lag metrics. See
//!   the [`pool`] module for the wake-up protocol.
//! - [`ThreadPool`] (feature `std`): OS threads over a `Pool`, the count
//!   chosen at run time, with back-pressure, closures, submit-and-wait and
//!   panic isolation. See the [`thread_pool`] module.
//!
//! Every job ends as exactly one of: run, handed back by `stop`, or returned
//! to its submitter inside the error. Nothing is dropped silently.
//!
//! ```
//! use taskring::{Pool, Task};
//!
//! static POOL: Pool<Task, 64, 0> = Pool::new();
//!
//! POOL.try_submit(Task::new(|| println!("hello"))).unwrap();
//! assert_eq!(POOL.run_pending(usize::MAX), 1);
//! ```
//!
//! | feature | what it adds |
//! |---|---|
//! | `std` | [`ThreadPool`]; detection of `stop_wait` from inside a job; implies `alloc` and `async-drain` |
//! | `alloc` | [`Job`] for `Box<dyn FnOnce() + Send>`; [`Task`] boxes closures that do not fit inline |
//! | `async-drain` | `Pool::run_async` and `Pool::wait_pending`: an async task drains a [`Pool`] (the pool's waker slot, and the `atomic-waker` dependency) |
//! | `critical-section` | the backend for targets without compare-and-swap |
//! | `defmt` | `defmt::Format` for the errors, [`Stats`] and [`PoolEvent`] |
//! | `metrics` | publishing [`Stats`] through the `metrics` facade; implies `std` |
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
// `--cfg loom` swaps primitives for model checking; it is not an availability
// condition users should see on docs.rs.
#![cfg_attr(docsrs, doc(auto_cfg(hide(loom))))]
#![doc(test(attr(deny(warnings))))]
// The library imports from `core` and `alloc` where it can; tests and
// examples, which always have `std`, are exempt.
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

#[cfg(any(test, feature = "std"))]
extern crate std;

// Targets without compare-and-swap need the critical-section backend, and
// the application must link a critical-section implementation.
#[cfg(all(not(target_has_atomic = "ptr"), not(feature = "critical-section")))]
compile_error!(
    "taskring: this target has no atomic compare-and-swap. Enable the \
     `taskring/critical-section` feature, and link one critical-section \
     implementation in the application, such as \
     `cortex-m = { version = \"0.7\", features = [\"critical-section-single-core\"] }` \
     or `riscv/critical-section-single-hart`."
);

// The host-test switch for that backend needs the same feature; the tests
// link the `critical-section/std` implementation from the dev-dependencies.
#[cfg(all(taskring_force_cs, not(feature = "critical-section")))]
compile_error!(
    "taskring: `--cfg taskring_force_cs` selects the critical-section backend, \
     which needs `--features critical-section`."
);

#[cfg(feature = "alloc")]
extern crate alloc;

/// The README's examples, run as doctests (they use the thread pool).
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(any(not(target_has_atomic = "ptr"), taskring_force_cs))]
mod cs_atomic;
#[cfg(feature = "defmt")]
mod defmt;
mod error;
mod loom;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
pub mod pool;
pub mod ring;
mod slot;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod thread_pool;

#[cfg(feature = "std")]
pub use crate::thread_pool::{BuildError, ThreadPool};
pub use crate::{
    error::{ConfigError, PopError, PushError, StopError, SubmitError, WorkerError},
    pool::{
        config::Config,
        env::{Bare, Env, Hooks},
        event::PoolEvent,
        job::{Idle, Job, Spin},
        stats::Stats,
        Pool,
    },
    ring::Ring,
    slot::task::Task,
};
/// The `heapless` crate, a public dependency: [`Pool::stop`] returns a
/// [`heapless::Vec`]. Re-exported so that callers name the same version.
pub use heapless;
