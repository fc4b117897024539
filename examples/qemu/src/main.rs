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

mod common;

#[cfg(feature = "defmt")]
use core::sync::atomic::AtomicBool;
use core::sync::atomic::{compiler_fence, Ordering};

use common::{
    bump, core_name, counts_agree, fold_into, load, start_ticks, stats_agree, tick, values,
    ACCEPTED, ACCEPTED_SUM, BUSY, DRAIN_BATCH, FULL, INTERRUPTED_INSIDE, IN_POOL, JOB_CYCLES, N,
    RAN, RAN_SUM, SUBMIT_TICKS, TICKS,
};
use cortex_m::asm;
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
        fold_into(&RAN_SUM, self.value());
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
    start_ticks(&mut cp.SYST);

    loop {
        IN_POOL.store(true, Ordering::Relaxed);
        // Keep the flag's stores on their side of the pool operation.
        compiler_fence(Ordering::SeqCst);
        let ran = POOL.run_pending(DRAIN_BATCH);
        compiler_fence(Ordering::SeqCst);
        IN_POOL.store(false, Ordering::Relaxed);
        if ran == 0 {
            if load(&TICKS) > SUBMIT_TICKS && POOL.queued() == 0 {
                break;
            }
            // Sleep until the next tick. A tick between the check and the
            // WFI only delays the wake-up by one period.
            asm::wfi();
        }
    }
    cp.SYST.disable_interrupt();

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
        core_name(),
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
    let stats_agree = stats_agree(&stats);
    let ok = counts_agree() && stats_agree;
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
    let tick = tick();
    if tick > SUBMIT_TICKS {
        return;
    }
    for value in values(tick) {
        let job = if value & 1 == 0 {
            Work::Add(value)
        } else {
            Work::Invert(value)
        };
        let contribution = job.value();
        match POOL.try_submit(job) {
            Ok(()) => {
                bump(&ACCEPTED);
                fold_into(&ACCEPTED_SUM, contribution);
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
