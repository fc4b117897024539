//! Queue contenders and the queue scenarios Q1–Q5.
//!
//! Every raw queue is used through its non-blocking `try` operations with
//! one wait policy, [`Wait`]: on a failed push or pop, spin with
//! `spin_loop` 64 times, then `yield_now` on every further failure, and
//! start over after a success.

use std::{
    collections::VecDeque,
    hint::{black_box, spin_loop},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc, Arc, Barrier, Mutex,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

/// A bounded MPMC queue of `usize` used through non-blocking calls.
pub trait RawQueue: Send + Sync + 'static {
    /// The contender's name in the report.
    const NAME: &'static str;
    /// An empty queue holding at most `capacity` items.
    fn with_capacity(capacity: usize) -> Self;
    /// Pushes `value`, or gives it back when the queue is full (or busy).
    fn push(&self, value: usize) -> Result<(), usize>;
    /// Pops the front value, if any.
    fn pop(&self) -> Option<usize>;
}

/// taskring's `Ring`.
pub struct Taskring<const N: usize>(taskring::Ring<usize, N>);

impl<const N: usize> RawQueue for Taskring<N> {
    const NAME: &'static str = "taskring Ring";
    fn with_capacity(capacity: usize) -> Self {
        assert_eq!(capacity, N, "Ring capacity is a type parameter");
        Self(taskring::Ring::new())
    }
    #[inline]
    fn push(&self, value: usize) -> Result<(), usize> {
        self.0
            .try_push(value)
            .map_err(taskring::PushError::into_inner)
    }
    #[inline]
    fn pop(&self) -> Option<usize> {
        self.0.try_pop().ok()
    }
}

/// crossbeam-queue's `ArrayQueue`.
pub struct ArrayQueue(crossbeam_queue::ArrayQueue<usize>);

impl RawQueue for ArrayQueue {
    const NAME: &'static str = "crossbeam ArrayQueue";
    fn with_capacity(capacity: usize) -> Self {
        Self(crossbeam_queue::ArrayQueue::new(capacity))
    }
    #[inline]
    fn push(&self, value: usize) -> Result<(), usize> {
        self.0.push(value)
    }
    #[inline]
    fn pop(&self) -> Option<usize> {
        self.0.pop()
    }
}

/// heapless's deprecated `mpmc::Queue` (with `mpmc_large`).
#[allow(deprecated)]
pub struct Heapless<const N: usize>(heapless::mpmc::Queue<usize, N>);

#[allow(deprecated)]
impl<const N: usize> RawQueue for Heapless<N> {
    const NAME: &'static str = "heapless mpmc";
    fn with_capacity(capacity: usize) -> Self {
        assert_eq!(capacity, N, "heapless capacity is a type parameter");
        Self(heapless::mpmc::Queue::new())
    }
    #[inline]
    fn push(&self, value: usize) -> Result<(), usize> {
        self.0.enqueue(value)
    }
    #[inline]
    fn pop(&self) -> Option<usize> {
        self.0.dequeue()
    }
}

/// concurrent-queue's `bounded`.
pub struct Concurrent(concurrent_queue::ConcurrentQueue<usize>);

impl RawQueue for Concurrent {
    const NAME: &'static str = "concurrent-queue";
    fn with_capacity(capacity: usize) -> Self {
        Self(concurrent_queue::ConcurrentQueue::bounded(capacity))
    }
    #[inline]
    fn push(&self, value: usize) -> Result<(), usize> {
        self.0
            .push(value)
            .map_err(concurrent_queue::PushError::into_inner)
    }
    #[inline]
    fn pop(&self) -> Option<usize> {
        self.0.pop().ok()
    }
}

/// thingbuf's `ThingBuf`.
pub struct Thingbuf(thingbuf::ThingBuf<usize>);

impl RawQueue for Thingbuf {
    const NAME: &'static str = "thingbuf";
    fn with_capacity(capacity: usize) -> Self {
        Self(thingbuf::ThingBuf::new(capacity))
    }
    #[inline]
    fn push(&self, value: usize) -> Result<(), usize> {
        self.0.push(value).map_err(thingbuf::Full::into_inner)
    }
    #[inline]
    fn pop(&self) -> Option<usize> {
        self.0.pop()
    }
}

/// crossbeam-channel's `bounded`, with `try_send` / `try_recv`.
pub struct CbChannel(
    crossbeam_channel::Sender<usize>,
    crossbeam_channel::Receiver<usize>,
);

impl RawQueue for CbChannel {
    const NAME: &'static str = "crossbeam-channel";
    fn with_capacity(capacity: usize) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        Self(tx, rx)
    }
    #[inline]
    fn push(&self, value: usize) -> Result<(), usize> {
        self.0
            .try_send(value)
            .map_err(crossbeam_channel::TrySendError::into_inner)
    }
    #[inline]
    fn pop(&self) -> Option<usize> {
        self.1.try_recv().ok()
    }
}

/// std's `sync_channel`, with `try_send` / `try_recv`; the receiver sits
/// in a `Mutex` so that several consumers can share it.
pub struct StdChannel(mpsc::SyncSender<usize>, Mutex<mpsc::Receiver<usize>>);

impl RawQueue for StdChannel {
    const NAME: &'static str = "std sync_channel";
    fn with_capacity(capacity: usize) -> Self {
        let (tx, rx) = mpsc::sync_channel(capacity);
        Self(tx, Mutex::new(rx))
    }
    #[inline]
    fn push(&self, value: usize) -> Result<(), usize> {
        self.0.try_send(value).map_err(|error| match error {
            mpsc::TrySendError::Full(value) | mpsc::TrySendError::Disconnected(value) => value,
        })
    }
    #[inline]
    fn pop(&self) -> Option<usize> {
        self.1.lock().ok()?.try_recv().ok()
    }
}

/// A `VecDeque` behind a `Mutex`, bounded by a length check.
pub struct MutexDeque(Mutex<VecDeque<usize>>, usize);

impl RawQueue for MutexDeque {
    const NAME: &'static str = "Mutex<VecDeque>";
    fn with_capacity(capacity: usize) -> Self {
        Self(Mutex::new(VecDeque::with_capacity(capacity)), capacity)
    }
    #[inline]
    fn push(&self, value: usize) -> Result<(), usize> {
        let Ok(mut deque) = self.0.lock() else {
            return Err(value);
        };
        if deque.len() == self.1 {
            return Err(value);
        }
        deque.push_back(value);
        Ok(())
    }
    #[inline]
    fn pop(&self) -> Option<usize> {
        self.0.lock().ok()?.pop_front()
    }
}

/// The shared wait policy: 64 × `spin_loop`, then `yield_now`.
#[derive(Debug, Default)]
pub struct Wait(u32);

impl Wait {
    /// Spins the first 64 failures in a row, then yields on each.
    #[inline]
    pub fn failed(&mut self) {
        if self.0 < 64 {
            spin_loop();
            self.0 += 1;
        } else {
            thread::yield_now();
        }
    }

    /// Starts over after a success.
    #[inline]
    pub fn reset(&mut self) {
        self.0 = 0;
    }
}

#[cold]
#[inline(never)]
fn unexpected(what: &str) -> ! {
    panic!("benchmark invariant broken: {what}")
}

/// Q1: `pairs` × (push, then pop) on an empty queue. Two `black_box` per pair.
#[inline(never)]
pub fn q1<Q: RawQueue>(queue: &Q, pairs: usize) {
    for i in 0..pairs {
        if queue.push(black_box(i)).is_err() {
            unexpected("push to an empty queue failed");
        }
        black_box(queue.pop());
    }
}

/// Q1 floor: an unsynchronised `VecDeque`, same loop.
#[inline(never)]
pub fn q1_vecdeque(deque: &mut VecDeque<usize>, pairs: usize) {
    for i in 0..pairs {
        deque.push_back(black_box(i));
        black_box(deque.pop_front());
    }
}

/// A value alone on its own 128-byte block.
#[repr(align(128))]
#[derive(Debug, Default)]
pub struct Padded(pub AtomicUsize);

/// Q1 floor: two independent `fetch_add` on two padded lines per pair.
#[inline(never)]
pub fn q1_two_faa(a: &Padded, b: &Padded, pairs: usize) {
    for i in 0..pairs {
        a.0.fetch_add(black_box(i), Ordering::AcqRel);
        black_box(b.0.fetch_add(1, Ordering::AcqRel));
    }
}

/// Q2: `rounds` × (fill to `capacity`, then drain); `2 × capacity` ops each.
#[inline(never)]
pub fn q2<Q: RawQueue>(queue: &Q, capacity: usize, rounds: usize) {
    for _ in 0..rounds {
        for i in 0..capacity {
            if queue.push(black_box(i)).is_err() {
                unexpected("push below capacity failed");
            }
        }
        for _ in 0..capacity {
            if black_box(queue.pop()).is_none() {
                unexpected("pop of a filled queue failed");
            }
        }
    }
}

/// Fills `queue` to `capacity` (for Q3's full case).
pub fn fill<Q: RawQueue>(queue: &Q, capacity: usize) {
    for i in 0..capacity {
        if queue.push(i).is_err() {
            unexpected("fill failed");
        }
    }
}

/// Q3, full: `ops` pushes on a full queue, each rejected.
#[inline(never)]
pub fn q3_push_full<Q: RawQueue>(queue: &Q, ops: usize) {
    for i in 0..ops {
        if black_box(queue.push(black_box(i))).is_ok() {
            unexpected("push to a full queue succeeded");
        }
    }
}

/// Q3, empty: `ops` pops on an empty queue, each `None`.
#[inline(never)]
pub fn q3_pop_empty<Q: RawQueue>(queue: &Q, ops: usize) {
    for _ in 0..ops {
        if black_box(queue.pop()).is_some() {
            unexpected("pop of an empty queue succeeded");
        }
    }
}

/// Q4 / Q5: `producers` threads push and `consumers` threads pop through
/// one queue. The threads start once and wait on a barrier between rounds,
/// so each round's time covers only the streaming.
pub struct Stream<Q: RawQueue> {
    queue: Arc<Q>,
    start: Arc<Barrier>,
    end: Arc<Barrier>,
    quit: Arc<AtomicBool>,
    checksum: Arc<AtomicUsize>,
    expected: usize,
    threads: Vec<JoinHandle<()>>,
}

impl<Q: RawQueue> Stream<Q> {
    /// Starts the threads; each round moves `messages` messages in total.
    pub fn new(capacity: usize, producers: usize, consumers: usize, messages: usize) -> Self {
        let queue = Arc::new(Q::with_capacity(capacity));
        let parties = producers + consumers + 1;
        let start = Arc::new(Barrier::new(parties));
        let end = Arc::new(Barrier::new(parties));
        let quit = Arc::new(AtomicBool::new(false));
        let checksum = Arc::new(AtomicUsize::new(0));
        let per_producer = messages / producers;
        let total = per_producer * producers;
        let mut threads = Vec::new();
        for _ in 0..producers {
            let (queue, start, end, quit) =
                (queue.clone(), start.clone(), end.clone(), quit.clone());
            threads.push(thread::spawn(move || loop {
                start.wait();
                if quit.load(Ordering::Relaxed) {
                    return;
                }
                let mut wait = Wait::default();
                for i in 1..=per_producer {
                    let mut value = i;
                    while let Err(back) = queue.push(value) {
                        value = back;
                        wait.failed();
                    }
                    wait.reset();
                }
                end.wait();
            }));
        }
        for c in 0..consumers {
            // Every consumer takes an exact share, so no shared counter is
            // needed to tell when to stop.
            let share = total / consumers + usize::from(c < total % consumers);
            let (queue, start, end, quit) =
                (queue.clone(), start.clone(), end.clone(), quit.clone());
            let checksum = checksum.clone();
            threads.push(thread::spawn(move || loop {
                start.wait();
                if quit.load(Ordering::Relaxed) {
                    return;
                }
                let mut wait = Wait::default();
                let mut sum = 0usize;
                let mut taken = 0;
                while taken < share {
                    match queue.pop() {
                        Some(value) => {
                            sum = sum.wrapping_add(value);
                            taken += 1;
                            wait.reset();
                        }
                        None => wait.failed(),
                    }
                }
                checksum.fetch_add(sum, Ordering::Relaxed);
                end.wait();
            }));
        }
        Self {
            queue,
            start,
            end,
            quit,
            checksum,
            expected: producers * (per_producer * (per_producer + 1) / 2),
            threads,
        }
    }

    /// One round: the time to move every message. Panics on a lost or
    /// duplicated message.
    pub fn round(&self) -> Duration {
        self.checksum.store(0, Ordering::Relaxed);
        let began = Instant::now();
        self.start.wait();
        self.end.wait();
        let took = began.elapsed();
        assert_eq!(
            self.checksum.load(Ordering::Relaxed),
            self.expected,
            "{}: messages lost or duplicated",
            Q::NAME
        );
        assert!(self.queue.pop().is_none(), "{}: queue not drained", Q::NAME);
        took
    }
}

impl<Q: RawQueue> Drop for Stream<Q> {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::Relaxed);
        self.start.wait();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
