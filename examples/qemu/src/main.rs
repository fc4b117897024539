//! A SysTick handler submits jobs into a `static` [`Pool`] with
//! `try_submit` while `main` drains it with `run_pending` and sleeps with
//! WFI between ticks.
//!
//! The same source runs on a Cortex-M3 (`thumbv7m-none-eabi`, QEMU
//! `lm3s6965evb`, the CAS backend) and on a Cortex-M0 (`thumbv6m-none-eabi`,
//! QEMU `microbit`, the critical-section backend). It checks an
//! order-sensitive checksum of every job that ran against every job that
//! was accepted, cross-checks the pool's own statistics, prints a summary
//! over semihosting and exits 0 on success.
//!
//! With the `defmt` feature the pool also has watermarks and an event hook,
//! and the firmware logs each `PoolEvent`, the first refused submit (a
//! `SubmitError`) and the final `Stats` with defmt. The frames go to
//! semihosting stdout for `defmt-print` to decode; the text lines go to
//! stderr.
#![no_std]
#![no_main]

use core::sync::atomic::{compiler_fence, AtomicBool, AtomicU32, Ordering};

use cortex_m::{asm, peripheral::syst::SystClkSource};
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::debug;
#[cfg(not(feature = "defmt"))]
use cortex_m_semihosting::hprintln as say;
// With defmt, stdout carries defmt frames; the text goes to stderr.
#[cfg(feature = "defmt")]
use cortex_m_semihosting::heprintln as say;
#[cfg(feature = "defmt")]
use defmt_semihosting as _;
use panic_semihosting as _;
use taskring::{Job, Pool, SubmitError};

/// Queue capacity of the pool.
const N: usize = 16;
/// Ticks that submit jobs; later ticks only wake `main`.
const SUBMIT_TICKS: u32 = 300;
/// Every `BURST_EVERY`th tick submits `BURST` jobs at once, more than the
/// queue holds, so that `Full` is exercised.
const BURST_EVERY: u32 = 40;
const BURST: u32 = 24;
/// SysTick reload value, in core clock cycles.
const RELOAD: u32 = 8_000;
/// Busy-wait per job, in core cycles.
const JOB_CYCLES: u32 = 100_000;
/// Jobs `main` runs per drain call before it looks at the clock again.
const DRAIN_BATCH: usize = 4;

// All counters below have exactly one writer (the handler or `main`), so
// plain loads and stores suffice: thumbv6m has no atomic read-modify-write.

/// Ticks so far (written by the handler).
static TICKS: AtomicU32 = AtomicU32::new(0);
/// Jobs accepted, and the checksum of their values in submission order
/// (written by the handler).
static ACCEPTED: AtomicU32 = AtomicU32::new(0);
static ACCEPTED_SUM: AtomicU32 = AtomicU32::new(CHECKSUM_SEED);
/// Submissions refused (written by the handler).
static FULL: AtomicU32 = AtomicU32::new(0);
static BUSY: AtomicU32 = AtomicU32::new(0);
/// True while `main` is inside a pool operation (written by `main`).
static IN_POOL: AtomicBool = AtomicBool::new(false);
/// Ticks that arrived while `main` was inside a pool operation (written
/// by the handler).
static INTERRUPTED_INSIDE: AtomicU32 = AtomicU32::new(0);
/// Jobs run, and the checksum of their values in run order (written by the
/// jobs, which run in `main`).
static RAN: AtomicU32 = AtomicU32::new(0);
static RAN_SUM: AtomicU32 = AtomicU32::new(CHECKSUM_SEED);

const CHECKSUM_SEED: u32 = 0x811C_9DC5;

/// An order-sensitive checksum step.
fn fold(sum: u32, value: u32) -> u32 {
    (sum.rotate_left(5) ^ value).wrapping_mul(0x0100_0193)
}

/// Adds one to a counter that only the caller writes.
fn bump(counter: &AtomicU32) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// The jobs: a user enum, so results can be checksummed.
enum Work {
    Add(u32),
    Invert(u32),
}

impl Work {
    /// The value this job contributes to the checksum.
    fn value(&self) -> u32 {
        match *self {
            Work::Add(v) => v,
            Work::Invert(v) => !v,
        }
    }
}

impl Job for Work {
    fn run(self) {
        // Some work, so that ticks land while `main` is draining.
        asm::delay(JOB_CYCLES);
        RAN_SUM.store(
            fold(RAN_SUM.load(Ordering::Relaxed), self.value()),
            Ordering::Relaxed,
        );
        bump(&RAN);
    }
}

/// No worker threads (`W = 0`): `main` drains with `run_pending`.
#[cfg(not(feature = "defmt"))]
static POOL: Pool<Work, N, 0> = Pool::new();

/// The same pool with watermarks, whose events are logged.
#[cfg(feature = "defmt")]
static POOL: Pool<Work, N, 0, taskring::Hooks> = Pool::with_env(
    taskring::Config::new().watermarks(12, 4),
    taskring::Hooks::new().on_event(log_event),
);

/// Logs each pool event (from the SysTick handler or from `main`).
#[cfg(feature = "defmt")]
fn log_event(event: taskring::PoolEvent) {
    defmt::warn!("pool event: {}", event);
}

/// True once a refused submit was logged (written by the handler).
#[cfg(feature = "defmt")]
static LOGGED_REFUSAL: AtomicBool = AtomicBool::new(false);

/// Logs the first refused submit.
#[cfg(feature = "defmt")]
fn log_refusal(tick: u32, error: &SubmitError<Work>) {
    if !LOGGED_REFUSAL.load(Ordering::Relaxed) {
        LOGGED_REFUSAL.store(true, Ordering::Relaxed);
        defmt::warn!("submit refused at tick {}: {}", tick, error);
    }
}

/// Without defmt, the firmware only counts refusals.
#[cfg(not(feature = "defmt"))]
fn log_refusal(_: u32, _: &SubmitError<Work>) {}

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(RELOAD);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();
    cp.SYST.enable_interrupt();

    loop {
        IN_POOL.store(true, Ordering::Relaxed);
        // Keep the flag's stores on their side of the pool operation.
        compiler_fence(Ordering::SeqCst);
        let ran = POOL.run_pending(DRAIN_BATCH);
        compiler_fence(Ordering::SeqCst);
        IN_POOL.store(false, Ordering::Relaxed);
        if ran == 0 {
            if TICKS.load(Ordering::Relaxed) > SUBMIT_TICKS && POOL.queued() == 0 {
                break;
            }
            // Sleep until the next tick. A tick between the check and the
            // WFI only delays the wake-up by one period.
            asm::wfi();
        }
    }
    cp.SYST.disable_interrupt();

    let core = if cfg!(target_has_atomic = "ptr") {
        "Cortex-M3, CAS backend"
    } else {
        "Cortex-M0, critical-section backend"
    };
    let load = |c: &AtomicU32| c.load(Ordering::Relaxed);
    let (ran, accepted) = (load(&RAN), load(&ACCEPTED));
    let (ran_sum, accepted_sum) = (load(&RAN_SUM), load(&ACCEPTED_SUM));
    let (full, busy) = (load(&FULL), load(&BUSY));
    let interrupted = load(&INTERRUPTED_INSIDE);
    let stats = POOL.stats();
    #[cfg(feature = "defmt")]
    defmt::info!("final stats: {}", stats);
    say!(
        "taskring qemu ({}): jobs run={} accepted={} rejected full={} busy={} \
         high-water={}/{} ticks={} interrupted-inside-pool={} checksum={:#010x} expected={:#010x}",
        core,
        ran,
        accepted,
        full,
        busy,
        stats.high_water,
        N,
        load(&TICKS),
        interrupted,
        ran_sum,
        accepted_sum,
    );
    // The pool's statistics must agree with what the firmware counted.
    let as_usize = |v: u32| v as usize;
    let stats_agree = stats.completed == as_usize(ran)
        && stats.submitted == as_usize(accepted)
        && stats.full == as_usize(full)
        && stats.busy == as_usize(busy)
        && stats.rejected == as_usize(full + busy)
        && stats.queued == 0
        && stats.high_water == N;
    let ok =
        ran == accepted && ran_sum == accepted_sum && stats_agree && full > 0 && interrupted > 0;
    if !stats_agree {
        say!("pool stats disagree: {:?}", stats);
    }
    say!("{}", if ok { "PASS" } else { "FAIL" });
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        asm::wfi();
    }
}

#[exception]
fn SysTick() {
    bump(&TICKS);
    let tick = TICKS.load(Ordering::Relaxed);
    if IN_POOL.load(Ordering::Relaxed) {
        bump(&INTERRUPTED_INSIDE);
    }
    if tick > SUBMIT_TICKS {
        return;
    }
    let jobs = if tick.is_multiple_of(BURST_EVERY) {
        BURST
    } else {
        1
    };
    for i in 0..jobs {
        let value = tick << 8 | i;
        let job = if value & 1 == 0 {
            Work::Add(value)
        } else {
            Work::Invert(value)
        };
        let contribution = job.value();
        match POOL.try_submit(job) {
            Ok(()) => {
                bump(&ACCEPTED);
                let sum = fold(ACCEPTED_SUM.load(Ordering::Relaxed), contribution);
                ACCEPTED_SUM.store(sum, Ordering::Relaxed);
            }
            Err(error @ SubmitError::Full(_)) => {
                bump(&FULL);
                log_refusal(tick, &error);
            }
            Err(SubmitError::Busy(_)) => bump(&BUSY),
            Err(SubmitError::Stopped(_)) => panic!("the pool is never stopped"),
        }
    }
}
