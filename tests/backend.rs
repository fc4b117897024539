//! Ring behaviour that every backend must share. Runs against the CAS
//! backend by default and against the critical-section backend with
//! `RUSTFLAGS="--cfg taskring_force_cs" cargo test --features std,critical-section,__test_hooks`.
//!
//! The tests that install a hook or start near the counter wrap need the
//! hidden `__test_hooks` feature; without it they are left out, and
//! `hook_tests_need_the_test_hooks_feature` shows as ignored.
#![cfg(not(loom))]

#[cfg(feature = "__test_hooks")]
use std::sync::Mutex;
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    thread,
    vec::Vec,
};

#[cfg(feature = "__test_hooks")]
use taskring::ring::hooks::{self, Event};
use taskring::{PopError, PushError, Ring};

/// Stands in for the tests below that need the hidden `__test_hooks`
/// feature, so that a run without it says that they did not run.
#[cfg(not(feature = "__test_hooks"))]
#[test]
#[ignore = "the hook and counter-wrap tests need --features __test_hooks"]
fn hook_tests_need_the_test_hooks_feature() {}

/// Serializes the tests that install a process-wide hook.
#[cfg(feature = "__test_hooks")]
static HOOK_LOCK: Mutex<()> = Mutex::new(());

#[test]
fn fifo_full_empty_and_many_laps() {
    let ring: Ring<u32, 3> = Ring::new();
    for lap in 0..50u32 {
        for i in 0..3 {
            ring.try_push(lap * 3 + i).unwrap();
        }
        assert_eq!(ring.try_push(99), Err(PushError::Full(99)));
        assert_eq!(ring.len(), 3);
        for i in 0..3 {
            assert_eq!(ring.try_pop(), Ok(lap * 3 + i));
        }
        assert_eq!(ring.try_pop(), Err(PopError::Empty));
        assert!(ring.is_empty());
    }
}

#[cfg(feature = "__test_hooks")]
#[test]
fn counters_wrap_around() {
    let ring: Ring<u16, 5> = Ring::__near_counter_wrap(2);
    for round in 0..40u16 {
        ring.try_push(round).unwrap();
        ring.try_push(round + 1000).unwrap();
        assert_eq!(ring.try_pop(), Ok(round));
        assert_eq!(ring.try_pop(), Ok(round + 1000));
    }
    assert_eq!(ring.len(), 0);
}

#[test]
fn drop_drops_every_remaining_item() {
    let counter = Arc::new(());
    {
        let ring: Ring<Arc<()>, 4> = Ring::new();
        for _ in 0..3 {
            ring.try_push(Arc::clone(&counter)).unwrap();
        }
        drop(ring.try_pop().unwrap());
        assert_eq!(Arc::strong_count(&counter), 3);
    }
    assert_eq!(Arc::strong_count(&counter), 1);
}

#[test]
fn mpmc_every_item_exactly_once() {
    const PRODUCERS: usize = 3;
    let per_producer: usize = if cfg!(miri) { 30 } else { 20_000 };
    let ring = Arc::new(Ring::<usize, 4>::new());
    let taken = Arc::new(AtomicUsize::new(0));
    let sums: Vec<_> = (0..2)
        .map(|_| {
            let (ring, taken) = (Arc::clone(&ring), Arc::clone(&taken));
            thread::spawn(move || {
                let mut sum = 0usize;
                while taken.load(Ordering::Relaxed) < PRODUCERS * per_producer {
                    if let Ok(v) = ring.try_pop() {
                        sum += v;
                        taken.fetch_add(1, Ordering::Relaxed);
                    } else {
                        thread::yield_now();
                    }
                }
                sum
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let ring = Arc::clone(&ring);
            thread::spawn(move || {
                for i in 0..per_producer {
                    let mut v = p * per_producer + i;
                    while let Err(e) = ring.try_push(v) {
                        v = e.into_inner();
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let total: usize = sums.into_iter().map(|h| h.join().unwrap()).sum();
    let n = PRODUCERS * per_producer;
    assert_eq!(total, n * (n - 1) / 2);
}

/// The ring the re-entering hook below works on.
#[cfg(feature = "__test_hooks")]
static REENTER: Ring<u8, 2> = Ring::new();
/// What the nested operations returned: push ok, pop busy.
#[cfg(feature = "__test_hooks")]
static NESTED: Mutex<Vec<(bool, Result<u8, PopError>)>> = Mutex::new(Vec::new());

#[cfg(feature = "__test_hooks")]
fn reenter(event: Event, ring: usize) {
    if event == Event::PushClaimed && ring == &REENTER as *const _ as usize {
        hooks::set(None);
        let pushed = REENTER.try_push(2).is_ok();
        NESTED.lock().unwrap().push((pushed, REENTER.try_pop()));
    }
}

/// A context that runs inside a push, after its claim (an interrupt handler
/// on the CAS backend; only a test hook on the critical-section backend)
/// sees the claimed slot as busy, never as empty, and never blocks.
#[cfg(feature = "__test_hooks")]
#[test]
fn operation_nested_inside_a_claim_sees_busy() {
    let _guard = HOOK_LOCK.lock().unwrap();
    hooks::set(Some(reenter));
    REENTER.try_push(1).unwrap();
    hooks::set(None);
    assert_eq!(*NESTED.lock().unwrap(), [(true, Err(PopError::Busy))]);
    assert_eq!(REENTER.try_pop(), Ok(1));
    assert_eq!(REENTER.try_pop(), Ok(2));
}

#[cfg(feature = "__test_hooks")]
static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
/// Hooks fire for every ring in the process; count only this one.
#[cfg(feature = "__test_hooks")]
static COUNTED: Ring<u8, 2> = Ring::new();

#[cfg(feature = "__test_hooks")]
fn count_attempts(event: Event, ring: usize) {
    if event == Event::Attempt && ring == &COUNTED as *const _ as usize {
        ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Without contention each operation takes exactly one attempt.
#[cfg(feature = "__test_hooks")]
#[test]
fn uncontended_operations_take_one_attempt() {
    let _guard = HOOK_LOCK.lock().unwrap();
    let ring = &COUNTED;
    ATTEMPTS.store(0, Ordering::Relaxed);
    hooks::set(Some(count_attempts));
    ring.try_push(1).unwrap();
    ring.try_push(2).unwrap();
    assert!(ring.try_push(3).is_err());
    ring.try_pop().unwrap();
    hooks::set(None);
    assert_eq!(ATTEMPTS.load(Ordering::Relaxed), 4);
}
