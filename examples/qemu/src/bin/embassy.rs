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

#[path = "../common.rs"]
mod common;

use core::{
    future::{poll_fn, Future},
    pin::pin,
    sync::atomic::{compiler_fence, AtomicBool, Ordering},
};

use common::{
    bump, core_name, counts_agree, fold_into, load, start_ticks, stats_agree, tick, values,
    ACCEPTED, ACCEPTED_SUM, BUSY, DRAIN_BATCH, FULL, INTERRUPTED_INSIDE, IN_POOL, JOB_CYCLES, N,
    RAN, RAN_SUM, SUBMIT_TICKS, TICKS,
};
use cortex_m::{asm, peripheral::SYST};
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::Executor;
use panic_semihosting as _;
use taskring::{Job, Pool, SubmitError};

/// Ticks after the submitting ones by which the task must have finished.
/// It keeps up with the ticks (each job is shorter than a tick under QEMU),
/// so a full queue drains within `N` ticks; the rest is margin. A task
/// that is never woken again fails here instead of hanging QEMU.
const DEADLINE_TICKS: u32 = 500;

/// True once the end marker was accepted (written by the handler).
static END_SUBMITTED: AtomicBool = AtomicBool::new(false);
/// True once the end marker ran (written by the task).
static END_RAN: AtomicBool = AtomicBool::new(false);
/// True once the task has finished and reports (written by the task).
static FINISHED: AtomicBool = AtomicBool::new(false);

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
        fold_into(&RAN_SUM, self.value());
        bump(&RAN);
    }
}

/// No worker threads (`W = 0`): the task drains with `run_async`.
static POOL: Pool<Work, N, 0> = Pool::new();

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    start_ticks(&mut cp.SYST);

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

    let (ran, accepted) = (load(&RAN), load(&ACCEPTED));
    let (ran_sum, accepted_sum) = (load(&RAN_SUM), load(&ACCEPTED_SUM));
    let (full, busy) = (load(&FULL), load(&BUSY));
    let interrupted = load(&INTERRUPTED_INSIDE);
    let stats = POOL.stats();
    hprintln!(
        "taskring qemu embassy ({}): jobs run={} accepted={} rejected full={} busy={} \
         high-water={}/{} ticks={} interrupted-inside-pool={} suspended={} \
         resumed-by-submit={} checksum={:#010x} expected={:#010x}",
        core_name(),
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
    let stats_agree = stats_agree(&stats);
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
    let ok =
        END_RAN.load(Ordering::Relaxed) && counts_agree() && drained == ran && stats_agree && woken;
    hprintln!("{}", if ok { "PASS" } else { "FAIL" });
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
}

#[exception]
fn SysTick() {
    let tick = tick();
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
    for value in values(tick) {
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
            fold_into(&ACCEPTED_SUM, contribution);
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
