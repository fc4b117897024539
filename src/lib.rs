#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
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

#[cfg(feature = "defmt")]
mod defmt;
mod error;
mod loom;
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
        env::{Bare, Env, Hooks},
        job::{Idle, Job, Spin},
        stats::{Config, PoolEvent, Stats},
        Pool,
    },
    ring::Ring,
    slot::task::Task,
};
