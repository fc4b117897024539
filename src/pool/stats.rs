//! A pool's counters and the [`Stats`] snapshot of them.

use super::ticks::Ticks;
use crate::loom::{AtomicUsize, Ordering};
#[cfg(doc)]
use crate::PoolEvent;

/// A snapshot of a pool's counters.
///
/// Counters are read one by one while the pool runs, so a snapshot of a
/// busy pool mixes slightly different instants. At quiescence (no call in
/// flight) `submitted == completed + panicked + handed_back + queued`.
/// Counts wrap around at `usize::MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Jobs in the queue now.
    pub queued: usize,
    /// Largest queue depth a submit reached (see [`PoolEvent::Overloaded`]
    /// for how it is measured).
    pub high_water: usize,
    /// Jobs accepted: `completed + panicked + handed_back + running +
    /// queued`, each read once.
    pub submitted: usize,
    /// Jobs that ran to completion.
    pub completed: usize,
    /// Jobs that panicked (only with unwinding).
    pub panicked: usize,
    /// Jobs handed back un-run by `stop`.
    pub handed_back: usize,
    /// Jobs running now.
    pub running: usize,
    /// Submissions refused and handed back to their caller, for any
    /// reason: `full + busy + after_stop`. A blocking submit that waits and
    /// then succeeds is not counted; one that gives up is counted once.
    pub rejected: usize,
    /// Submissions refused because the queue was full.
    pub full: usize,
    /// Submissions refused as busy (another context mid-operation).
    pub busy: usize,
    /// Submissions refused because the pool was stopped.
    pub after_stop: usize,
    /// True between an `Overloaded` and the next `Recovered` event.
    pub overloaded: bool,
    /// How many `Overloaded` events have fired.
    pub overload_events: usize,
    /// True between a `Lagging` and the next `LagRecovered` event.
    pub lagging: bool,
    /// How many `Lagging` events have fired.
    pub lag_events: usize,
    /// Longest time a job waited in the queue, in clock ticks of the
    /// pool's [`Env`](crate::Env) (0 without a clock).
    pub max_wait: u64,
    /// Age of the oldest queued job, in clock ticks (0 without a clock or
    /// with an empty queue). An upper bound: it is measured from the later
    /// of the last job to start and the last submit into an empty queue.
    pub lag: u64,
}

#[cfg(feature = "std")]
impl Stats {
    /// [`lag`](Self::lag) as a `Duration`, for a pool whose clock ticks in
    /// nanoseconds (a [`ThreadPool`](crate::ThreadPool)'s).
    pub fn lag_duration(&self) -> core::time::Duration {
        core::time::Duration::from_nanos(self.lag)
    }

    /// [`max_wait`](Self::max_wait) as a `Duration`, for a pool whose
    /// clock ticks in nanoseconds (a [`ThreadPool`](crate::ThreadPool)'s).
    pub fn max_wait_duration(&self) -> core::time::Duration {
        core::time::Duration::from_nanos(self.max_wait)
    }
}

/// Counters of one context that runs jobs (a worker, or the entry shared
/// by `run_pending` and `stop_wait` callers). Each lives on its own cache
/// line. A worker's counters have one writer, which updates them with
/// plain loads and stores; the shared entry uses read-modify-writes.
#[derive(Debug)]
pub(crate) struct RunCounters {
    /// Contexts that may hold a job now (0 or 1 for a worker). Set before
    /// taking jobs, cleared once idle; `stop_wait` and `pause_wait` wait
    /// for it to be clear.
    pub(crate) active: AtomicUsize,
    pub(crate) completed: AtomicUsize,
    pub(crate) panicked: AtomicUsize,
    pub(crate) running: AtomicUsize,
    /// Longest wait of a job this context took, in ticks.
    pub(crate) max_wait: Ticks,
}

impl RunCounters {
    crate::loom::loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                active: AtomicUsize::new(0),
                completed: AtomicUsize::new(0),
                panicked: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                max_wait: Ticks::new(0),
            }
        }
    }

    #[cfg(feature = "std")]
    /// Whether the context is active, and how many jobs it finished.
    /// Acquire: pairs with the `Release` updates in [`add`](Self::add).
    pub(crate) fn activity(&self) -> (bool, usize) {
        let finished = self
            .completed
            .load(Ordering::Acquire)
            .wrapping_add(self.panicked.load(Ordering::Acquire));
        (self.active.load(Ordering::Acquire) != 0, finished)
    }

    /// Adds `delta` (1 or `usize::MAX` for -1) to one of these counters.
    /// `shared`: several contexts may write them (the callers' entry,
    /// which the pool tells apart by its address; see `Pool::is_shared`),
    /// so the add must be one read-modify-write.
    ///
    /// Release: pairs with the `Acquire` loads in `stop_wait`,
    /// `pause_wait` and `stats`, so a finished job's effects are visible
    /// to whoever sees it counted.
    #[inline]
    pub(crate) fn add(&self, counter: &AtomicUsize, delta: usize, shared: bool) {
        if shared {
            counter.fetch_add(delta, Ordering::Release);
        } else {
            // One writer: a load and a store, no locked instruction.
            let value = counter.load(Ordering::Relaxed).wrapping_add(delta);
            counter.store(value, Ordering::Release);
        }
    }
}

/// A worker's entry of a [`Pool`](crate::Pool): its counters, and the
/// mark of the `run_worker` call that owns its index (the callers' entry
/// and a thread pool's workers need none).
#[derive(Debug)]
pub(crate) struct WorkerCounters {
    /// Set while a `run_worker` call owns this worker index.
    pub(crate) claimed: AtomicUsize,
    pub(crate) run: RunCounters,
}

impl WorkerCounters {
    crate::loom::loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                claimed: AtomicUsize::new(0),
                run: RunCounters::new(),
            }
        }
    }
}

/// Counters written by submitters and `stop`: only on a rejection, on a
/// new high-water mark, on an overload transition, or when a job becomes
/// the front of an empty queue. An accepted submit into a queue below its
/// high-water mark writes none of them.
#[derive(Debug)]
pub(crate) struct SubmitCounters {
    pub(crate) full: AtomicUsize,
    pub(crate) busy: AtomicUsize,
    pub(crate) after_stop: AtomicUsize,
    pub(crate) handed_back: AtomicUsize,
    pub(crate) high_water: AtomicUsize,
    /// `Overloaded` and `Recovered` events.
    pub(crate) overload: Alarm,
    /// `Lagging` and `LagRecovered` events.
    pub(crate) lag: Alarm,
    /// The enqueue tick of the front of the queue (see [`Stats::lag`]).
    pub(crate) front: Ticks,
}

impl SubmitCounters {
    crate::loom::loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                full: AtomicUsize::new(0),
                busy: AtomicUsize::new(0),
                after_stop: AtomicUsize::new(0),
                handed_back: AtomicUsize::new(0),
                high_water: AtomicUsize::new(0),
                overload: Alarm::new(),
                lag: Alarm::new(),
                front: Ticks::new(0),
            }
        }
    }
}

/// An alarm with hysteresis (overload, lag): whether it is raised and how
/// many times it was, in one word that counts its transitions. The count
/// is odd while the alarm is raised; raising and clearing each add one.
///
/// One word where a flag and an event count took two: on a bare-metal
/// pool, 4 bytes of RAM per alarm.
#[derive(Debug)]
pub(crate) struct Alarm(AtomicUsize);

impl Alarm {
    crate::loom::loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self(AtomicUsize::new(0))
        }
    }

    /// Relaxed, here and in the other methods: a statistic and the gate
    /// of an event; no other memory is published through it.
    #[inline]
    fn transitions(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// True while raised.
    #[inline]
    pub(crate) fn is_raised(&self) -> bool {
        self.transitions() % 2 == 1
    }

    /// How many times it was raised. Wraps at `usize::MAX / 2 + 1`
    /// (the count of transitions wraps at `usize::MAX`, an even number of
    /// them later, so the parity survives the wrap).
    pub(crate) fn events(&self) -> usize {
        let transitions = self.transitions();
        transitions / 2 + transitions % 2
    }

    /// Raises the alarm unless it is raised; true when this call raised
    /// it (so the caller reports the event, once).
    #[inline]
    pub(crate) fn raise(&self) -> bool {
        self.flip_from(0)
    }

    /// Clears the alarm if it is raised; true when this call cleared it.
    #[inline]
    pub(crate) fn clear(&self) -> bool {
        self.flip_from(1)
    }

    /// Adds a transition if the parity is `from`; retries only when
    /// another transition came in between and the parity is still `from`.
    fn flip_from(&self, from: usize) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |transitions| {
                (transitions % 2 == from).then(|| transitions.wrapping_add(1))
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Alarm;
    use crate::loom::{AtomicUsize, Ordering};

    #[test]
    fn alarm_counts_raises_and_tells_raised() {
        let alarm = Alarm::new();
        assert!(!alarm.is_raised());
        assert_eq!(alarm.events(), 0);
        assert!(!alarm.clear(), "clearing a quiet alarm is not a transition");
        assert!(alarm.raise());
        assert!(!alarm.raise(), "a second raise is no new event");
        assert_eq!((alarm.is_raised(), alarm.events()), (true, 1));
        assert!(alarm.clear());
        assert!(!alarm.clear());
        assert_eq!((alarm.is_raised(), alarm.events()), (false, 1));
        assert!(alarm.raise());
        assert_eq!((alarm.is_raised(), alarm.events()), (true, 2));
    }

    #[test]
    fn alarm_keeps_its_parity_across_the_wrap() {
        // Quiet, after usize::MAX / 2 raises and as many clears: the next
        // two transitions wrap the word around to 0.
        let alarm = Alarm(AtomicUsize::new(usize::MAX - 1));
        assert!(!alarm.is_raised());
        assert_eq!(alarm.events(), usize::MAX / 2);
        assert!(alarm.raise());
        assert!(alarm.is_raised());
        assert_eq!(alarm.events(), usize::MAX / 2 + 1);
        assert!(alarm.clear());
        assert_eq!(alarm.0.load(Ordering::Relaxed), 0);
        assert!(!alarm.is_raised());
        assert!(alarm.raise());
        assert_eq!(alarm.events(), 1);
    }
}
