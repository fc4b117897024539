//! The async variant of the QEMU firmware: an `embassy-executor` task
//! drains a `static` [`Pool`] with `run_async` while the SysTick handler
//! submits jobs to it with `try_submit`.
//!
//! Built with `--features embassy --bin taskring-qemu-embassy`, for the
//! Cortex-M3 (`thumbv7m-none-eabi`, QEMU `lm3s6965evb`) and the Cortex-M0
//! (`thumbv6m-none-eabi`, QEMU `microbit`). The jobs, their bursts and the
//! checksum are those of the blocking firmware (`src/main.rs`); what
//! differs is the drainer. Between jobs the task is suspended inside
//! `run_async`: its waker sits in the pool, and the executor's thread
//! loop sleeps in WFE. A submit from the handler wakes that waker, which
//! puts the task on embassy's run queue and executes SEV, so the WFE
//! returns and the executor polls the task again.
//!
//! Embassy polls a task only after its waker was woken, so the firmware
//! checks the wake-up path directly: it counts the polls of `run_async`
//! that returned `Pending` and requires that each later poll found a new
//! accepted submit. A lost wake-up leaves the task suspended; the SysTick
//! handler then reports it and fails, instead of letting QEMU hang.
//!
//! The end of the stream is a job: once the submitting ticks are over, the
//! handler submits [`Work::End`], and the task stops after running it. It
//! then checks an order-sensitive checksum of every job that ran against
//! every job accepted, cross-checks the pool's statistics, prints a summary
//! over semihosting and exits 0 on success.
#![no_std]
#![no_main]

use core::{
    future::{poll_fn, Future},
    pin::pin,
    sync::atomic::{compiler_fence, AtomicBool, AtomicU32, Ordering},
};

use cortex_m::{
    asm,
    peripheral::{syst::SystClkSource, SYST},
};
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::Executor;
use panic_semihosting as _;
use taskring::{Job, Pool, SubmitError};

/// Queue capacity of the pool.
const N: usize = 16;
/// Ticks that submit jobs; the ticks after them submit the end marker
/// until it is accepted.
const SUBMIT_TICKS: u32 = 300;
/// Every `BURST_EVERY`th tick submits `BURST` jobs at once, more than the
/// queue holds, so that `Full` is exercised.
const BURST_EVERY: u32 = 40;
const BURST: u32 = 24;
/// SysTick reload value, in core clock cycles.
const RELOAD: u32 = 8_000;
/// Busy-wait per job, in core cycles.
const JOB_CYCLES: u32 = 100_000;
/// Jobs the task runs per `run_async` call.
const DRAIN_BATCH: usize = 4;
/// Ticks after the submitting ones by which the task must have finished.
/// It keeps up with the ticks (each job is shorter than a tick under QEMU),
/// so a full queue drains within `N` ticks; the rest is margin. A task
/// that is never woken again fails here instead of hanging QEMU.
const DEADLINE_TICKS: u32 = 500;

// All counters below have exactly one writer (the handler or the task), so
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
/// True once the end marker was accepted (written by the handler).
static END_SUBMITTED: AtomicBool = AtomicBool::new(false);
/// True while the task is polling `run_async` (written by the task).
static IN_POOL: AtomicBool = AtomicBool::new(false);
/// Ticks that arrived while the task was polling `run_async` (written by
/// the handler).
static INTERRUPTED_INSIDE: AtomicU32 = AtomicU32::new(0);
/// Jobs run, and the checksum of their values in run order (written by the
/// jobs, which run in the task).
static RAN: AtomicU32 = AtomicU32::new(0);
static RAN_SUM: AtomicU32 = AtomicU32::new(CHECKSUM_SEED);
/// True once the end marker ran (written by the task).
static END_RAN: AtomicBool = AtomicBool::new(false);
/// True once the task has finished and reports (written by the task).
static FINISHED: AtomicBool = AtomicBool::new(false);

const CHECKSUM_SEED: u32 = 0x811C_9DC5;

/// An order-sensitive checksum step.
fn fold(sum: u32, value: u32) -> u32 {
    (sum.rotate_left(5) ^ value).wrapping_mul(0x0100_0193)
}

/// Adds one to a counter that only the caller writes.
fn bump(counter: &AtomicU32) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

fn load(counter: &AtomicU32) -> u32 {
    counter.load(Ordering::Relaxed)
}

/// The jobs: a user enum, so results can be checksummed.
enum Work {
    Add(u32),
    Invert(u32),
    /// The last job: no more follow.
    End(u32),
}

impl Work {
    /// The value this job contributes to the checksum.
    fn value(&self) -> u32 {
        match *self {
            Work::Add(v) | Work::End(v) => v,
            Work::Invert(v) => !v,
        }
    }
}

impl Job for Work {
    fn run(self) {
        if let Work::End(_) = self {
            END_RAN.store(true, Ordering::Relaxed);
        } else {
            // Some work, so that ticks land while the task is draining.
            asm::delay(JOB_CYCLES);
        }
        RAN_SUM.store(fold(load(&RAN_SUM), self.value()), Ordering::Relaxed);
        bump(&RAN);
    }
}

/// No worker threads (`W = 0`): the task drains with `run_async`.
static POOL: Pool<Work, N, 0> = Pool::new();

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(RELOAD);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();
    cp.SYST.enable_interrupt();

    let executor = cortex_m::singleton!(: Executor = Executor::new()).unwrap();
    let syst = cp.SYST;
    executor.run(|spawner| spawner.spawn(drain(syst).unwrap()))
}

/// Drains the pool until the end marker has run, then checks and exits.
#[embassy_executor::task]
async fn drain(mut syst: SYST) {
    // Polls of `run_async` that returned `Pending` (the task suspended),
    // and the polls after them that found a new accepted submit (the task
    // was woken by the handler's submit).
    let mut suspended = 0u32;
    let mut resumed_by_submit = 0u32;
    // Jobs as `run_async` counted them.
    let mut drained = 0u32;
    while !END_RAN.load(Ordering::Relaxed) {
        let mut run = pin!(POOL.run_async(DRAIN_BATCH));
        // `ACCEPTED` when the task last suspended, if it did.
        let mut accepted_at_suspend = None;
        let ran = poll_fn(|cx| {
            if let Some(before) = accepted_at_suspend.take() {
                if load(&ACCEPTED) != before {
                    resumed_by_submit += 1;
                }
            }
            IN_POOL.store(true, Ordering::Relaxed);
            // Keep the flag's stores on their side of the poll.
            compiler_fence(Ordering::SeqCst);
            let poll = run.as_mut().poll(cx);
            compiler_fence(Ordering::SeqCst);
            IN_POOL.store(false, Ordering::Relaxed);
            if poll.is_pending() {
                suspended += 1;
                accepted_at_suspend = Some(load(&ACCEPTED));
            }
            poll
        })
        .await;
        if ran == 0 {
            hprintln!("run_async returned 0, but the pool is never stopped");
            break;
        }
        drained += ran as u32;
    }
    syst.disable_interrupt();
    FINISHED.store(true, Ordering::Relaxed);

    let core = if cfg!(target_has_atomic = "ptr") {
        "Cortex-M3, CAS backend"
    } else {
        "Cortex-M0, critical-section backend"
    };
    let (ran, accepted) = (load(&RAN), load(&ACCEPTED));
    let (ran_sum, accepted_sum) = (load(&RAN_SUM), load(&ACCEPTED_SUM));
    let (full, busy) = (load(&FULL), load(&BUSY));
    let interrupted = load(&INTERRUPTED_INSIDE);
    let stats = POOL.stats();
    hprintln!(
        "taskring qemu embassy ({}): jobs run={} accepted={} rejected full={} busy={} \
         high-water={}/{} ticks={} interrupted-inside-pool={} suspended={} \
         resumed-by-submit={} checksum={:#010x} expected={:#010x}",
        core,
        ran,
        accepted,
        full,
        busy,
        stats.high_water,
        N,
        load(&TICKS),
        interrupted,
        suspended,
        resumed_by_submit,
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
    if !stats_agree {
        hprintln!("pool stats disagree: {:?}", stats);
    }
    // Every suspension ended with a poll, which embassy makes only for a
    // woken task; each must have followed a submit (the pool's waker), not
    // a spurious wake-up.
    let woken = suspended > 0 && resumed_by_submit == suspended;
    if !woken {
        hprintln!(
            "the task suspended {} times, resumed after a submit {} times",
            suspended,
            resumed_by_submit
        );
    }
    let ok = END_RAN.load(Ordering::Relaxed)
        && ran == accepted
        && drained == ran
        && ran_sum == accepted_sum
        && stats_agree
        && woken
        && full > 0
        && interrupted > 0;
    hprintln!("{}", if ok { "PASS" } else { "FAIL" });
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
}

#[exception]
fn SysTick() {
    bump(&TICKS);
    let tick = load(&TICKS);
    if IN_POOL.load(Ordering::Relaxed) {
        bump(&INTERRUPTED_INSIDE);
    }
    if tick > SUBMIT_TICKS {
        if tick > SUBMIT_TICKS + DEADLINE_TICKS && !FINISHED.load(Ordering::Relaxed) {
            hprintln!(
                "the drain task has not finished {} ticks after the last submitting one: \
                 ran={} accepted={} queued={} end marker accepted={}",
                DEADLINE_TICKS,
                load(&RAN),
                load(&ACCEPTED),
                POOL.queued(),
                END_SUBMITTED.load(Ordering::Relaxed),
            );
            hprintln!("FAIL");
            debug::exit(debug::EXIT_FAILURE);
        } else if !END_SUBMITTED.load(Ordering::Relaxed) && submit(Work::End(tick)) {
            END_SUBMITTED.store(true, Ordering::Relaxed);
        }
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
        submit(job);
    }
}

/// Submits a job from the handler and counts the outcome; true if the pool
/// accepted it.
fn submit(job: Work) -> bool {
    let contribution = job.value();
    match POOL.try_submit(job) {
        Ok(()) => {
            bump(&ACCEPTED);
            ACCEPTED_SUM.store(fold(load(&ACCEPTED_SUM), contribution), Ordering::Relaxed);
            true
        }
        Err(SubmitError::Full(_)) => {
            bump(&FULL);
            false
        }
        Err(SubmitError::Busy(_)) => {
            bump(&BUSY);
            false
        }
        Err(SubmitError::Stopped(_)) => panic!("the pool is never stopped"),
    }
}
