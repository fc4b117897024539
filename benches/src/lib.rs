//! Shared pieces of taskring's benchmark suite: the queue and pool
//! contenders, the scenarios, the statistics and a counting allocator.
//!
//! Every contender is a type behind a trait and every scenario a generic
//! function, so each (scenario, contender) pair is compiled separately and
//! the measured loop contains the contender's inlined fast path.

pub mod alloc_count;
pub mod asynch;
pub mod context;
pub mod counts;
pub mod cpu;
pub mod pools;
pub mod queues;
pub mod stats;
