//! Four harts of QEMU's RISC-V `virt` machine share one `static` [`Pool`]:
//! harts 1 to 3 are its workers (`run_worker`, sleeping in WFI when idle,
//! woken by a machine software interrupt), while hart 0 submits jobs from
//! its main loop and from its timer interrupt handler, which preempts the
//! main loop, in the middle of a submit as often as not.
//!
//! Every job carries an id. Hart 0 marks the ids the pool accepted, each
//! worker marks the ids it ran (and notices an id it finds already marked),
//! and at the end hart 0 checks that the two sets are equal, that no job ran
//! twice, and that the pool's own statistics agree; it prints the jobs each
//! hart ran and exits through semihosting with 0 on success.
//!
//! The runtime is this file: a few lines of assembly start each hart on its
//! own stack (hart 0 zeroes `.bss` first, the others wait for it), and a
//! trap entry saves the caller-saved registers around the Rust handler.
//!
//! Run: `bash scripts/embedded.sh`, or by hand
//! `qemu-system-riscv32 -machine virt -smp 4 -bios none -nographic
//! -semihosting-config enable=on,target=native -kernel <elf>`.
#![no_std]
#![no_main]

use core::{
    arch::{asm, global_asm},
    panic::PanicInfo,
    sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering},
};

use semihosting::{println, process};
use taskring::{Config, Env, Job, Pool, SubmitError};

/// Harts of the machine (`-smp 4`); hart 0 submits, the others work.
const HARTS: usize = 4;
const WORKERS: usize = HARTS - 1;
/// Queue capacity of the pool.
const N: usize = 16;
/// Jobs that hart 0's main loop submits, each retried at once until
/// accepted: at least `MAIN_JOBS_MIN`, and more for as long as the timer
/// ticks (so that ticks land inside its submits), up to `MAIN_JOBS_MAX`.
const MAIN_JOBS_MIN: u32 = 3000;
const MAIN_JOBS_MAX: u32 = 30_000;
/// Timer interrupts that submit, and jobs each of them tries to submit
/// (refused ones are counted, not retried).
const TICKS: u32 = 200;
const PER_TICK: u32 = 4;
/// Timer period, in ticks of the 10 MHz machine timer.
const TICK_PERIOD: u64 = 2_000;
/// Every job id, main loop's first.
const IDS: usize = (MAIN_JOBS_MAX + TICKS * PER_TICK) as usize;
/// Busy-wait per job, in loop iterations.
const JOB_SPIN: u32 = 200;

// --- Machine ------------------------------------------------------------------

/// QEMU `virt`'s CLINT: software-interrupt pending bits, timer compare
/// registers and the timer.
const CLINT_MSIP: usize = 0x0200_0000;
const CLINT_MTIMECMP: usize = 0x0200_4000;
const CLINT_MTIME: usize = 0x0200_bff8;

/// `mcause` of a machine timer interrupt on RV32.
const MCAUSE_TIMER: usize = (1 << 31) | 7;
/// `mie` / `mip` bits: machine software and timer interrupts.
const MIE_MSIE: usize = 1 << 3;
const MIE_MTIE: usize = 1 << 7;
/// `mstatus.MIE`: interrupts taken at all.
const MSTATUS_MIE: usize = 1 << 3;

/// Sets hart `hart`'s software-interrupt pending bit to `pending`.
fn set_msip(hart: usize, pending: bool) {
    // SAFETY: `CLINT_MSIP + 4 * hart` is hart `hart`'s MSIP register on
    // QEMU `virt` (`hart < HARTS`); a volatile 32-bit store only sets or
    // clears that hart's pending software interrupt.
    unsafe { ((CLINT_MSIP + 4 * hart) as *mut u32).write_volatile(u32::from(pending)) };
}

/// The machine timer, in 10 MHz ticks.
fn mtime() -> u64 {
    let at = |offset: usize| {
        // SAFETY: `mtime` is a readable 64-bit MMIO register on QEMU `virt`;
        // volatile 32-bit loads of its halves have no side effects.
        unsafe { ((CLINT_MTIME + offset) as *const u32).read_volatile() }
    };
    loop {
        let (high, low, again) = (at(4), at(0), at(4));
        if high == again {
            return u64::from(high) << 32 | u64::from(low);
        }
    }
}

/// Raises hart 0's timer interrupt at `when`.
fn set_timer(when: u64) {
    let at = |offset: usize, value: u32| {
        // SAFETY: hart 0's `mtimecmp` is a writable 64-bit MMIO register on
        // QEMU `virt`; volatile 32-bit stores only move its deadline.
        unsafe { ((CLINT_MTIMECMP + offset) as *mut u32).write_volatile(value) };
    };
    // No spurious interrupt between the two halves: high half first at
    // its maximum.
    at(4, u32::MAX);
    at(0, when as u32);
    at(4, (when >> 32) as u32);
}

/// Waits for an interrupt that is pending and enabled in `mie` (taken or
/// not, depending on `mstatus.MIE`).
fn wfi() {
    // SAFETY: `wfi` only pauses this hart; it touches no memory.
    unsafe { asm!("wfi", options(nomem, nostack)) };
}

// --- Boot and trap entry ------------------------------------------------------

/// Set by hart 0 once `.bss` is zero; the other harts wait for it. In
/// `.data`, so that zeroing `.bss` cannot race with it.
#[no_mangle]
#[link_section = ".data.bss_ready"]
static BSS_READY: AtomicU32 = AtomicU32::new(0);

global_asm!(
    r#"
    .section .text.start, "ax"
    .global _start
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    csrw mie, zero
    csrr a0, mhartid
    li t0, {harts}
    bgeu a0, t0, 9f
    la sp, _stacks_end
    li t0, 16384
    mul t0, t0, a0
    sub sp, sp, t0
    bnez a0, 2f
    la t0, _bss_start
    la t1, _bss_end
1:
    bgeu t0, t1, 3f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
3:
    fence rw, rw
    la t0, BSS_READY
    li t1, 1
    sw t1, 0(t0)
    j 4f
2:
    la t0, BSS_READY
5:
    lw t1, 0(t0)
    beqz t1, 5b
    fence rw, rw
4:
    call hart_main
9:
    wfi
    j 9b

    .section .text.trap, "ax"
    .balign 4
    .global _trap_entry
_trap_entry:
    addi sp, sp, -64
    sw ra, 0(sp)
    sw t0, 4(sp)
    sw t1, 8(sp)
    sw t2, 12(sp)
    sw a0, 16(sp)
    sw a1, 20(sp)
    sw a2, 24(sp)
    sw a3, 28(sp)
    sw a4, 32(sp)
    sw a5, 36(sp)
    sw a6, 40(sp)
    sw a7, 44(sp)
    sw t3, 48(sp)
    sw t4, 52(sp)
    sw t5, 56(sp)
    sw t6, 60(sp)
    call trap_handler
    lw ra, 0(sp)
    lw t0, 4(sp)
    lw t1, 8(sp)
    lw t2, 12(sp)
    lw a0, 16(sp)
    lw a1, 20(sp)
    lw a2, 24(sp)
    lw a3, 28(sp)
    lw a4, 32(sp)
    lw a5, 36(sp)
    lw a6, 40(sp)
    lw a7, 44(sp)
    lw t3, 48(sp)
    lw t4, 52(sp)
    lw t5, 56(sp)
    lw t6, 60(sp)
    addi sp, sp, 64
    mret
"#,
    harts = const HARTS,
);

/// Each hart's Rust entry, on its own stack, after `.bss` is zero.
#[no_mangle]
extern "C" fn hart_main(hart: usize) -> ! {
    if hart == 0 {
        submitter()
    } else {
        worker(hart)
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    println!("panic: {}", info);
    process::exit(1)
}

// --- The pool -----------------------------------------------------------------

/// The pool's environment: no clock; a wake-up sets the software-interrupt
/// pending bit of every worker hart (a sticky token: a WFI after it returns
/// at once). Waking all three for one job is harmless, since a worker that
/// finds nothing goes back to sleep.
struct Harts;

impl Env for Harts {
    type Stamp = ();
    fn now(&self) {}
    fn ticks(&self, (): ()) -> u64 {
        0
    }
    fn wake(&self) {
        WAKES.fetch_add(1, Ordering::Relaxed);
        for hart in 1..HARTS {
            set_msip(hart, true);
        }
    }
}

/// One job: its id, and some work.
struct Work(u32);

impl Job for Work {
    fn run(self) {
        let mut x = self.0;
        for _ in 0..JOB_SPIN {
            x = core::hint::black_box(x.rotate_left(3) ^ 0x9e37_79b9);
        }
        let hart = current_hart();
        let (word, bit) = (self.0 as usize / 32, 1u32 << (self.0 % 32));
        // Relaxed: the pool orders the job's run after its submit, and
        // hart 0 reads the marks only after every worker has returned.
        if RAN[word].fetch_or(bit, Ordering::Relaxed) & bit != 0 {
            TWICE.fetch_add(1, Ordering::Relaxed);
        }
        RAN_BY[hart].fetch_add(1, Ordering::Relaxed);
    }
}

/// Three workers (harts 1 to 3), one queue of `N` jobs.
static POOL: Pool<Work, N, WORKERS, Harts> = Pool::with_env(Config::new(), Harts);

// --- Bookkeeping -------------------------------------------------------------

const WORDS: usize = IDS.div_ceil(32);
/// Ids accepted by the pool (hart 0), and ids run (workers).
static ACCEPTED: [AtomicU32; WORDS] = [const { AtomicU32::new(0) }; WORDS];
static RAN: [AtomicU32; WORDS] = [const { AtomicU32::new(0) }; WORDS];
/// Jobs that found their id already marked as run.
static TWICE: AtomicU32 = AtomicU32::new(0);
/// Jobs each hart ran.
static RAN_BY: [AtomicU32; HARTS] = [const { AtomicU32::new(0) }; HARTS];
/// What each worker's `run_worker` returned, and whether it did.
static RETURNED: [AtomicUsize; HARTS] = [const { AtomicUsize::new(0) }; HARTS];
static DONE: [AtomicBool; HARTS] = [const { AtomicBool::new(false) }; HARTS];
/// Submits refused as full or busy, from the main loop and from ticks.
static FULL: AtomicU32 = AtomicU32::new(0);
static BUSY: AtomicU32 = AtomicU32::new(0);
/// Timer interrupts so far, those that landed while the main loop was
/// inside `try_submit`, and jobs they got accepted.
static TICK: AtomicU32 = AtomicU32::new(0);
static TICKS_INSIDE_SUBMIT: AtomicU32 = AtomicU32::new(0);
static TICK_JOBS: AtomicU32 = AtomicU32::new(0);
/// True while hart 0's main loop is inside `try_submit`.
static IN_SUBMIT: AtomicBool = AtomicBool::new(false);
/// Calls of `Env::wake`.
static WAKES: AtomicU32 = AtomicU32::new(0);

fn current_hart() -> usize {
    let hart: usize;
    // SAFETY: reading `mhartid` has no side effects.
    unsafe { asm!("csrr {}, mhartid", out(reg) hart, options(nomem, nostack)) };
    hart
}

/// Submits job `id`; true if the pool accepted it.
fn submit(id: u32) -> bool {
    match POOL.try_submit(Work(id)) {
        Ok(()) => {
            ACCEPTED[id as usize / 32].fetch_or(1 << (id % 32), Ordering::Relaxed);
            true
        }
        Err(SubmitError::Full(_)) => {
            FULL.fetch_add(1, Ordering::Relaxed);
            false
        }
        Err(SubmitError::Busy(_)) => {
            BUSY.fetch_add(1, Ordering::Relaxed);
            false
        }
        Err(SubmitError::Stopped(_)) => panic!("the pool stops only at the end"),
    }
}

// --- Hart 0 -------------------------------------------------------------------

/// The timer interrupt: submits `PER_TICK` jobs, `TICKS` times.
#[no_mangle]
extern "C" fn trap_handler() {
    let cause: usize;
    // SAFETY: reading `mcause` has no side effects.
    unsafe { asm!("csrr {}, mcause", out(reg) cause, options(nomem, nostack)) };
    if cause != MCAUSE_TIMER {
        panic!("unexpected trap, mcause {:#x}", cause);
    }
    let tick = TICK.fetch_add(1, Ordering::Relaxed);
    if IN_SUBMIT.load(Ordering::Relaxed) {
        TICKS_INSIDE_SUBMIT.fetch_add(1, Ordering::Relaxed);
    }
    for k in 0..PER_TICK {
        if submit(MAIN_JOBS_MAX + tick * PER_TICK + k) {
            TICK_JOBS.fetch_add(1, Ordering::Relaxed);
        }
    }
    if tick + 1 < TICKS {
        set_timer(mtime() + TICK_PERIOD);
    } else {
        set_timer(u64::MAX);
    }
}

fn submitter() -> ! {
    // SAFETY: `_trap_entry` is the 4-byte aligned trap entry above (direct
    // mode); enabling the timer interrupt on this hart only makes it call
    // `trap_handler`, which saves what it clobbers.
    unsafe {
        asm!(
            "la {t}, _trap_entry",
            "csrw mtvec, {t}",
            "csrs mie, {mtie}",
            "csrs mstatus, {mie}",
            t = out(reg) _,
            mtie = in(reg) MIE_MTIE,
            mie = in(reg) MSTATUS_MIE,
            options(nomem, nostack),
        )
    };
    set_timer(mtime() + TICK_PERIOD);

    let mut main_jobs = 0;
    while (main_jobs < MAIN_JOBS_MIN || TICK.load(Ordering::Relaxed) < TICKS)
        && main_jobs < MAIN_JOBS_MAX
    {
        IN_SUBMIT.store(true, Ordering::Relaxed);
        let accepted = submit(main_jobs);
        IN_SUBMIT.store(false, Ordering::Relaxed);
        // Refused (full, or busy): try the same job again at once.
        if accepted {
            main_jobs += 1;
        }
    }
    // Let the timer finish its ticks, then the workers their jobs.
    while TICK.load(Ordering::Relaxed) < TICKS {
        wfi();
    }
    let accepted = main_jobs + TICK_JOBS.load(Ordering::Relaxed);
    while POOL.stats().completed < accepted as usize {
        core::hint::spin_loop();
    }
    let handed_back = POOL.stop();
    for done in &DONE[1..] {
        while !done.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
    }

    let stats = POOL.stats();
    let ran_by: [u32; HARTS] = core::array::from_fn(|h| RAN_BY[h].load(Ordering::Relaxed));
    let returned: [usize; HARTS] = core::array::from_fn(|h| RETURNED[h].load(Ordering::Relaxed));
    let ran: u32 = ran_by.iter().sum();
    let same_ids =
        (0..WORDS).all(|w| ACCEPTED[w].load(Ordering::Relaxed) == RAN[w].load(Ordering::Relaxed));
    let twice = TWICE.load(Ordering::Relaxed);
    let (full, busy) = (FULL.load(Ordering::Relaxed), BUSY.load(Ordering::Relaxed));
    println!(
        "taskring riscv ({} harts, CAS backend): accepted={} (main {}, timer {}) ran={} \
         ran-twice={} rejected full={} busy={} ticks={} ticks-inside-submit={} wakes={}",
        HARTS,
        accepted,
        main_jobs,
        TICK_JOBS.load(Ordering::Relaxed),
        ran,
        twice,
        full,
        busy,
        TICK.load(Ordering::Relaxed),
        TICKS_INSIDE_SUBMIT.load(Ordering::Relaxed),
        WAKES.load(Ordering::Relaxed),
    );
    for hart in 1..HARTS {
        println!(
            "  hart {}: ran {} jobs (run_worker returned {})",
            hart, ran_by[hart], returned[hart]
        );
    }
    let stats_agree = stats.completed == accepted as usize
        && stats.submitted == accepted as usize
        && stats.full == full as usize
        && stats.busy == busy as usize
        && stats.queued == 0
        && stats.running == 0;
    let ok = same_ids
        && twice == 0
        && ran == accepted
        && handed_back.is_empty()
        && stats_agree
        && ran_by[0] == 0
        && (1..HARTS).all(|h| ran_by[h] > 0 && returned[h] == ran_by[h] as usize)
        && full > 0
        && TICKS_INSIDE_SUBMIT.load(Ordering::Relaxed) > 0;
    if !same_ids {
        println!("the ids run differ from the ids accepted");
    }
    if !stats_agree {
        println!("pool stats disagree: {:?}", stats);
    }
    println!("{}", if ok { "PASS" } else { "FAIL" });
    process::exit(if ok { 0 } else { 1 })
}

// --- Harts 1 to 3 -------------------------------------------------------------

fn worker(hart: usize) -> ! {
    // A pending software interrupt ends WFI; `mstatus.MIE` stays clear, so
    // it is never taken as a trap.
    // SAFETY: only enables this hart's software interrupt in `mie`.
    unsafe { asm!("csrs mie, {}", in(reg) MIE_MSIE, options(nomem, nostack)) };
    let mut idle = || {
        wfi();
        // Clear the token after waking: a wake that comes after this
        // store sets it again, and the next WFI returns at once.
        set_msip(hart, false);
    };
    let ran = POOL.run_worker(hart - 1, &mut idle).unwrap_or(usize::MAX);
    RETURNED[hart].store(ran, Ordering::Relaxed);
    // Release: hart 0 reads this hart's counts after its Acquire load.
    DONE[hart].store(true, Ordering::Release);
    loop {
        wfi();
    }
}
