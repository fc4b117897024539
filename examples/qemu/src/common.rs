//! What the blocking firmware (`main.rs`) and the embassy one
//! (`bin/embassy.rs`) share: the load they put on the pool, the counters
//! they keep, the checksum, and the checks of the pool's statistics.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use taskring::Stats;

/// Queue capacity of the pool.
pub const N: usize = 16;
/// Ticks that submit jobs.
pub const SUBMIT_TICKS: u32 = 300;
/// Every `BURST_EVERY`th tick submits `BURST` jobs at once, more than the
/// queue holds, so that `Full` is exercised.
pub const BURST_EVERY: u32 = 40;
pub const BURST: u32 = 24;
/// SysTick reload value, in core clock cycles.
pub const RELOAD: u32 = 8_000;
/// Busy-wait per job, in core cycles.
pub const JOB_CYCLES: u32 = 100_000;
/// Jobs drained per call before the drainer looks around again.
pub const DRAIN_BATCH: usize = 4;

// All counters below have exactly one writer (the handler, or the context
// that drains), so plain loads and stores suffice: thumbv6m has no atomic
// read-modify-write.

/// Ticks so far (written by the handler).
pub static TICKS: AtomicU32 = AtomicU32::new(0);
/// Jobs accepted, and the checksum of their values in submission order
/// (written by the handler).
pub static ACCEPTED: AtomicU32 = AtomicU32::new(0);
pub static ACCEPTED_SUM: AtomicU32 = AtomicU32::new(CHECKSUM_SEED);
/// Submissions refused (written by the handler).
pub static FULL: AtomicU32 = AtomicU32::new(0);
pub static BUSY: AtomicU32 = AtomicU32::new(0);
/// True while the drainer is inside a pool operation (written by it).
pub static IN_POOL: AtomicBool = AtomicBool::new(false);
/// Ticks that arrived while the drainer was inside a pool operation
/// (written by the handler).
pub static INTERRUPTED_INSIDE: AtomicU32 = AtomicU32::new(0);
/// Jobs run, and the checksum of their values in run order (written by the
/// jobs, which run in the drainer).
pub static RAN: AtomicU32 = AtomicU32::new(0);
pub static RAN_SUM: AtomicU32 = AtomicU32::new(CHECKSUM_SEED);

const CHECKSUM_SEED: u32 = 0x811C_9DC5;

/// An order-sensitive checksum step.
pub fn fold(sum: u32, value: u32) -> u32 {
    (sum.rotate_left(5) ^ value).wrapping_mul(0x0100_0193)
}

/// Reads a counter.
pub fn load(counter: &AtomicU32) -> u32 {
    counter.load(Ordering::Relaxed)
}

/// Adds one to a counter that only the caller writes.
pub fn bump(counter: &AtomicU32) {
    counter.store(load(counter) + 1, Ordering::Relaxed);
}

/// Folds `value` into a checksum that only the caller writes.
pub fn fold_into(sum: &AtomicU32, value: u32) {
    sum.store(fold(load(sum), value), Ordering::Relaxed);
}

/// Starts the SysTick interrupt every `RELOAD` cycles.
pub fn start_ticks(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();
}

/// Counts a tick (and whether it landed inside a pool operation); returns
/// its number.
pub fn tick() -> u32 {
    bump(&TICKS);
    if IN_POOL.load(Ordering::Relaxed) {
        bump(&INTERRUPTED_INSIDE);
    }
    load(&TICKS)
}

/// The values of the jobs that tick `tick` submits: one, or a burst.
pub fn values(tick: u32) -> impl Iterator<Item = u32> {
    let jobs = if tick.is_multiple_of(BURST_EVERY) {
        BURST
    } else {
        1
    };
    (0..jobs).map(move |i| tick << 8 | i)
}

/// The core and backend this image runs on.
pub fn core_name() -> &'static str {
    if cfg!(target_has_atomic = "ptr") {
        "Cortex-M3, CAS backend"
    } else {
        "Cortex-M0, critical-section backend"
    }
}

/// True if the pool's statistics agree with what the firmware counted,
/// with the queue drained and filled to capacity at least once.
pub fn stats_agree(stats: &Stats) -> bool {
    let as_usize = |v: u32| v as usize;
    let (ran, accepted) = (load(&RAN), load(&ACCEPTED));
    let (full, busy) = (load(&FULL), load(&BUSY));
    stats.completed == as_usize(ran)
        && stats.submitted == as_usize(accepted)
        && stats.full == as_usize(full)
        && stats.busy == as_usize(busy)
        && stats.rejected == as_usize(full + busy)
        && stats.queued == 0
        && stats.high_water == N
}

/// True if every accepted job ran, in the order accepted (checksums), the
/// queue refused some, and some ticks landed inside a pool operation.
pub fn counts_agree() -> bool {
    load(&RAN) == load(&ACCEPTED)
        && load(&RAN_SUM) == load(&ACCEPTED_SUM)
        && load(&FULL) > 0
        && load(&INTERRUPTED_INSIDE) > 0
}
