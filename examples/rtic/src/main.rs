//! taskring under RTIC v2: a hardware task bound to SysTick submits jobs to
//! a `static` [`Pool`] with `try_submit`, and the idle task drains it with
//! `run_pending`, sleeping with WFI when it is empty.
//!
//! RTIC schedules the SysTick task above idle, so it preempts idle in the
//! middle of `run_pending` whenever a tick lands there; the pool needs no
//! RTIC resource or lock for that, because `try_submit` never waits for
//! another context. The firmware checks an order-sensitive checksum of the
//! jobs that ran against the jobs accepted, cross-checks the pool's
//! statistics, prints a summary over semihosting and exits 0 on success.
//!
//! Runs on QEMU's `lm3s6965evb` (Cortex-M3, the CAS backend); see
//! `scripts/embedded.sh`.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use panic_semihosting as _;
use taskring::{Job, Pool};

/// Queue capacity of the pool.
const N: usize = 8;
/// Ticks that submit jobs; later ticks only wake idle.
const SUBMIT_TICKS: u32 = 200;
/// Jobs a submitting tick tries to submit: one, and on every
/// `BURST_EVERY`th tick more than the queue holds.
const BURST_EVERY: u32 = 25;
const BURST: u32 = 12;
/// SysTick reload value, in core clock cycles.
const RELOAD: u32 = 8_000;
/// Busy-wait per job, in core cycles.
const JOB_CYCLES: u32 = 100_000;

const CHECKSUM_SEED: u32 = 0x811C_9DC5;

/// An order-sensitive checksum step.
fn fold(sum: u32, value: u32) -> u32 {
    (sum.rotate_left(5) ^ value).wrapping_mul(0x0100_0193)
}

/// Jobs run and the checksum of their values in run order (idle only).
static RAN: AtomicU32 = AtomicU32::new(0);
static RAN_SUM: AtomicU32 = AtomicU32::new(CHECKSUM_SEED);

/// One job: a value to fold into the checksum, after some work.
struct Work(u32);

impl Job for Work {
    fn run(self) {
        cortex_m::asm::delay(JOB_CYCLES);
        RAN_SUM.store(
            fold(RAN_SUM.load(Ordering::Relaxed), self.0),
            Ordering::Relaxed,
        );
        RAN.store(RAN.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// No workers (`W = 0`): the idle task runs the jobs.
static POOL: Pool<Work, N, 0> = Pool::new();

#[rtic::app(device = lm3s6965, peripherals = false)]
mod app {
    use core::sync::atomic::Ordering;

    use cortex_m::peripheral::syst::SystClkSource;
    use cortex_m_semihosting::{debug, hprintln};
    use taskring::SubmitError;

    use super::{
        fold, Work, BURST, BURST_EVERY, CHECKSUM_SEED, N, POOL, RAN, RAN_SUM, RELOAD, SUBMIT_TICKS,
    };

    /// What the SysTick task counted; idle reads it under a lock.
    pub struct Counts {
        ticks: u32,
        accepted: u32,
        accepted_sum: u32,
        full: u32,
        busy: u32,
        ticks_inside_drain: u32,
    }

    #[shared]
    struct Shared {
        counts: Counts,
        /// True while idle is inside `run_pending`.
        draining: bool,
    }

    #[local]
    struct Local {}

    #[init]
    fn init(cx: init::Context) -> (Shared, Local) {
        let mut syst = cx.core.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_counter();
        syst.enable_interrupt();
        let counts = Counts {
            ticks: 0,
            accepted: 0,
            accepted_sum: CHECKSUM_SEED,
            full: 0,
            busy: 0,
            ticks_inside_drain: 0,
        };
        (
            Shared {
                counts,
                draining: false,
            },
            Local {},
        )
    }

    /// The hardware task: submits a job per tick, a burst now and then.
    #[task(binds = SysTick, shared = [counts, draining], priority = 1)]
    fn tick(cx: tick::Context) {
        let (mut counts, mut draining) = (cx.shared.counts, cx.shared.draining);
        let inside = draining.lock(|draining| *draining);
        counts.lock(|counts| {
            counts.ticks += 1;
            if inside {
                counts.ticks_inside_drain += 1;
            }
            if counts.ticks > SUBMIT_TICKS {
                return;
            }
            let jobs = if counts.ticks % BURST_EVERY == 0 {
                BURST
            } else {
                1
            };
            for k in 0..jobs {
                let value = counts.ticks << 8 | k;
                match POOL.try_submit(Work(value)) {
                    Ok(()) => {
                        counts.accepted += 1;
                        counts.accepted_sum = fold(counts.accepted_sum, value);
                    }
                    Err(SubmitError::Full(_)) => counts.full += 1,
                    Err(SubmitError::Busy(_)) => counts.busy += 1,
                    Err(SubmitError::Stopped(_)) => panic!("the pool is never stopped"),
                }
            }
        });
    }

    /// The idle task: drains the pool, sleeps when it is empty.
    #[idle(shared = [counts, draining])]
    fn idle(cx: idle::Context) -> ! {
        let (mut counts, mut draining) = (cx.shared.counts, cx.shared.draining);
        loop {
            draining.lock(|draining| *draining = true);
            // Not under a lock: the tick task preempts this freely.
            let ran = POOL.run_pending(2);
            draining.lock(|draining| *draining = false);
            if ran == 0 {
                let done = counts.lock(|counts| counts.ticks > SUBMIT_TICKS);
                if done && POOL.queued() == 0 {
                    break;
                }
                cortex_m::asm::wfi();
            }
        }

        let stats = POOL.stats();
        let (ran, ran_sum) = (RAN.load(Ordering::Relaxed), RAN_SUM.load(Ordering::Relaxed));
        let ok = counts.lock(|c| {
            hprintln!(
                "taskring rtic (Cortex-M3, RTIC v2, CAS backend): jobs run={} accepted={} \
                 rejected full={} busy={} high-water={}/{} ticks={} ticks-inside-drain={} \
                 checksum={:#010x} expected={:#010x}",
                ran,
                c.accepted,
                c.full,
                c.busy,
                stats.high_water,
                N,
                c.ticks,
                c.ticks_inside_drain,
                ran_sum,
                c.accepted_sum,
            );
            let stats_agree = stats.completed == ran as usize
                && stats.submitted == c.accepted as usize
                && stats.full == c.full as usize
                && stats.busy == c.busy as usize
                && stats.queued == 0;
            ran == c.accepted
                && ran_sum == c.accepted_sum
                && stats_agree
                && c.full > 0
                && c.ticks_inside_drain > 0
        });
        hprintln!("{}", if ok { "PASS" } else { "FAIL" });
        debug::exit(if ok {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
        loop {
            cortex_m::asm::wfi();
        }
    }
}
