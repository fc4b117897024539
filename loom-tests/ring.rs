//! Models of `Ring` push/pop races, its full and empty edges, lap and
//! counter wrap-around, and leaks.
//!
//! Every model is a [`Scenario`]: a ring in a known quiescent state, two
//! groups of [`Role`]s racing on it (placed on threads by [`Side`]), and then,
//! on the main thread after `join`, the same checks for every model:
//!
//! * conservation: each item pushed was popped or drained exactly once;
//! * each producer's items come out in the order it pushed them;
//! * `Full` only where `N` items can have been held, `Empty` only where
//!   none can (necessary conditions that the ledgers can check);
//! * the ring, quiescent again, has exact full and empty edges and never
//!   says `Busy`.
//!
//! The models that start near the counter wrap need the hidden
//! `__test_hooks` feature (`--features std,__test_hooks`); without it they
//! are ignored.

use taskring::{PushError, Ring};

use crate::{
    assert_conserved, assert_fifo_per_producer, assert_quiescent_edges, both_sides,
    drain_quiescent, model, model_bounded, thread, Arc, Item, Ledger, Pause, Side,
};

/// Ids of items pushed before the race.
const PREFILL_ID: u32 = 100;
/// Ids of items used by the sequential checks after the race.
const AFTER_ID: u32 = 1000;

/// What one thread does during the race.
#[derive(Debug, Clone)]
enum Role {
    /// Pushes each id once, with up to `attempts` tries each.
    Produce {
        ids: Vec<u32>,
        attempts: usize,
        pause: Pause,
    },
    /// Pops `count` times, with up to `attempts` tries each.
    Consume {
        count: usize,
        attempts: usize,
        pause: Pause,
    },
    /// Pops once, and if that succeeded pushes `id`; that push must never
    /// be `Full`, because this thread itself just freed a slot (see
    /// [`Scenario::check`] for why no other push can take it).
    PopThenPush { id: u32, attempts: usize },
}

impl Role {
    fn play<const N: usize>(&self, ring: &Ring<Item, N>) -> Ledger {
        let mut ledger = Ledger::default();
        match self {
            Role::Produce {
                ids,
                attempts,
                pause,
            } => {
                for &id in ids {
                    let _ = ledger.push(ring, id, *attempts, *pause);
                }
            }
            Role::Consume {
                count,
                attempts,
                pause,
            } => {
                for _ in 0..*count {
                    let _ = ledger.pop(ring, *attempts, *pause);
                }
            }
            Role::PopThenPush { id, attempts } => {
                if ledger.pop(ring, *attempts, Pause::None).is_ok() {
                    let pushed = ledger.push(ring, *id, *attempts, Pause::None);
                    assert!(
                        !matches!(pushed, Err(PushError::Full(()))),
                        "push returned Full right after the same thread freed a slot"
                    );
                }
            }
        }
        ledger
    }

    fn pushes(&self) -> bool {
        !matches!(self, Role::Consume { .. })
    }
}

/// A ring whose counters wrap around to zero after `laps` laps.
#[cfg(feature = "__test_hooks")]
fn near_wrap_ring<const N: usize>(laps: usize) -> Option<Ring<Item, N>> {
    Some(Ring::__near_counter_wrap(laps))
}

/// `None`: rings near the counter wrap need the `__test_hooks` feature.
#[cfg(not(feature = "__test_hooks"))]
fn near_wrap_ring<const N: usize>(_laps: usize) -> Option<Ring<Item, N>> {
    None
}

/// The message of a model that needs [`near_wrap_ring`] and ran anyway.
const NEEDS_HOOKS: &str = "models near the counter wrap need the __test_hooks feature";

/// One race on one ring.
#[derive(Debug, Clone)]
struct Scenario {
    /// Counters start this many laps before they wrap around to zero
    /// (`Ring::__near_counter_wrap`); `None` starts at zero.
    near_wrap: Option<usize>,
    /// Full laps (push `N`, pop `N`) the main thread makes before the race.
    warm_laps: usize,
    /// Items the main thread pushes before the race.
    prefill: usize,
    /// The first group of roles: the producers, where the scenario has
    /// producers and consumers.
    first: Vec<Role>,
    /// The second group of roles.
    second: Vec<Role>,
    /// If false, the ring is dropped holding its items instead of drained,
    /// so loom's leak tracking checks `Ring`'s `Drop`; the last thread to
    /// let go of the ring drops it.
    drain: bool,
}

impl Scenario {
    fn new(first: Vec<Role>, second: Vec<Role>) -> Self {
        Self {
            near_wrap: None,
            warm_laps: 0,
            prefill: 0,
            first,
            second,
            drain: true,
        }
    }

    fn prefill(mut self, items: usize) -> Self {
        self.prefill = items;
        self
    }

    fn warm_laps(mut self, laps: usize) -> Self {
        self.warm_laps = laps;
        self
    }

    fn near_wrap(mut self, laps: usize) -> Self {
        self.near_wrap = Some(laps);
        self
    }

    fn no_drain(mut self) -> Self {
        self.drain = false;
        self
    }

    /// Checks the scenario with `N` slots in orientation `side`, under the
    /// suite's preemption bound.
    fn check<const N: usize>(self, side: Side) {
        assert!(
            self.threads() <= 4,
            "loom models stay at 4 threads or fewer"
        );
        model(move || self.run::<N>(side));
    }

    /// Like [`check`](Self::check), with at most `max_preemptions`.
    fn check_bounded<const N: usize>(self, side: Side, max_preemptions: usize) {
        assert!(
            self.threads() <= 4,
            "loom models stay at 4 threads or fewer"
        );
        model_bounded(max_preemptions, move || self.run::<N>(side));
    }

    fn threads(&self) -> usize {
        self.first.len() + self.second.len()
    }

    /// One execution of the model.
    fn run<const N: usize>(&self, side: Side) {
        let ring = Arc::new(match self.near_wrap {
            Some(laps) => near_wrap_ring::<N>(laps).expect(NEEDS_HOOKS),
            None => Ring::<Item, N>::new(),
        });

        // Quiescent set-up: the exact edges, then whole laps, then the
        // prefill. Ids here never clash with the race's ids.
        assert_quiescent_edges(&ring, AFTER_ID);
        for lap in 0..self.warm_laps {
            assert_quiescent_edges(&ring, AFTER_ID + 10 * (lap as u32 + 1));
        }
        let prefilled: Vec<u32> = (PREFILL_ID..).take(self.prefill).collect();
        for &id in &prefilled {
            assert!(ring.try_push(Item::new(id)).is_ok());
        }

        let (first, second) = self.race(&ring, side);

        let ledgers: Vec<&Ledger> = first.iter().chain(&second).collect();
        self.assert_edges_justified::<N>(&ledgers);
        if !self.drain {
            // Every other thread has let go of its clone; dropping this one
            // runs `Ring::drop`, and loom reports any item it leaks.
            drop(ring);
            return;
        }
        let drained = drain_quiescent(&ring);
        assert_conserved(&prefilled, &ledgers, &drained);

        // Per-producer FIFO: each consumer's own sequence, and the drain.
        let mut producers: Vec<&[u32]> = vec![&prefilled];
        let mut consumers: Vec<Vec<u32>> = vec![drained];
        for ledger in &ledgers {
            producers.push(&ledger.pushed);
            consumers.push(ledger.popped.clone());
        }
        let single_consumer = ledgers.iter().filter(|l| !l.popped.is_empty()).count() <= 1;
        if single_consumer {
            // One consumer, then the drain: together one FIFO sequence.
            let mut sequence: Vec<u32> = ledgers.iter().flat_map(|l| l.popped.clone()).collect();
            sequence.extend_from_slice(&consumers[0]);
            consumers.push(sequence);
        }
        for sequence in &consumers {
            assert_fifo_per_producer(&producers, sequence);
        }

        // After any race the ring is exact again.
        assert_quiescent_edges(&ring, AFTER_ID + 500);
    }

    /// Runs the two groups of roles concurrently. The group that `side`
    /// spawns runs entirely on spawned threads; the other group's first
    /// role runs on the main thread and the rest are spawned.
    fn race<const N: usize>(
        &self,
        ring: &Arc<Ring<Item, N>>,
        side: Side,
    ) -> (Vec<Ledger>, Vec<Ledger>) {
        let (spawned, on_main) = match side {
            Side::FirstSpawned => (&self.first, &self.second),
            Side::SecondSpawned => (&self.second, &self.first),
        };
        let (main_role, spawned_too) = on_main.split_first().expect("a role for main");
        let spawn = |role: &Role| {
            let role = role.clone();
            let ring = Arc::clone(ring);
            thread::spawn(move || role.play(&ring))
        };
        let spawned_handles: Vec<_> = spawned.iter().map(spawn).collect();
        let other_handles: Vec<_> = spawned_too.iter().map(spawn).collect();

        let main_ledger = main_role.play(ring);

        let join = |handles: Vec<thread::JoinHandle<Ledger>>| -> Vec<Ledger> {
            handles
                .into_iter()
                .map(|handle| handle.join().expect("a model thread panicked"))
                .collect()
        };
        let spawned_ledgers = join(spawned_handles);
        let mut main_group = vec![main_ledger];
        main_group.extend(join(other_handles));
        match side {
            Side::FirstSpawned => (spawned_ledgers, main_group),
            Side::SecondSpawned => (main_group, spawned_ledgers),
        }
    }

    /// `Full` means `N` items were held when the push looked, and `Empty`
    /// that none were (module docs of `taskring::ring`). At that moment,
    /// pushes claimed are at most the prefill, the failing thread's own
    /// earlier pushes and every other thread's final total; pops claimed
    /// likewise. So:
    ///
    /// * `Full` needs prefill + own pushes so far + others' pushes >= `N`;
    /// * `Empty` needs own pops so far + others' pops + drained-by-drop
    ///   >= prefill, i.e. the prefilled items were all claimed.
    ///
    /// Also, a scenario that never holds `N` items may never see `Full`.
    fn assert_edges_justified<const N: usize>(&self, ledgers: &[&Ledger]) {
        let pushed: usize = ledgers.iter().map(|l| l.pushed.len()).sum();
        let popped: usize = ledgers.iter().map(|l| l.popped.len()).sum();
        for ledger in ledgers {
            let others_pushed = pushed - ledger.pushed.len();
            for &own in &ledger.full_at {
                assert!(
                    self.prefill + own + others_pushed >= N,
                    "Full while fewer than N items can have been held"
                );
            }
            let others_popped = popped - ledger.popped.len();
            for &own in &ledger.empty_at {
                assert!(
                    own + others_popped >= self.prefill,
                    "Empty while a prefilled item was still unclaimed"
                );
            }
        }
        let max_held = self.prefill
            + self
                .first
                .iter()
                .chain(&self.second)
                .filter(|role| role.pushes())
                .map(|role| match role {
                    Role::Produce { ids, .. } => ids.len(),
                    _ => 0,
                })
                .sum::<usize>();
        if max_held < N {
            assert!(
                ledgers.iter().all(|l| l.full_at.is_empty()),
                "Full in a scenario that never holds N items"
            );
        }
    }
}

// === Role shorthands ===

fn produce(ids: &[u32], attempts: usize) -> Role {
    Role::Produce {
        ids: ids.to_vec(),
        attempts,
        pause: Pause::None,
    }
}

fn consume(count: usize, attempts: usize) -> Role {
    Role::Consume {
        count,
        attempts,
        pause: Pause::None,
    }
}

// === 1 producer, 1 consumer ===

/// Two items through the ring while the consumer pops twice.
fn one_to_one() -> Scenario {
    Scenario::new(vec![produce(&[1, 2], 2)], vec![consume(2, 2)])
}

both_sides! {
    p1c1_n1_producer_spawned, p1c1_n1_consumer_spawned => |side| {
        one_to_one().check::<1>(side);
    }

    p1c1_n2_producer_spawned, p1c1_n2_consumer_spawned => |side| {
        one_to_one().check::<2>(side);
    }
}

// === Observers that yield between attempts (tokio-rs/loom#392) ===

/// One item; the consumer retries with `yield_now` in between, so loom
/// runs the producer between its looks.
fn yielding_consumer() -> Scenario {
    Scenario::new(
        vec![produce(&[1], 1)],
        vec![Role::Consume {
            count: 1,
            attempts: 3,
            pause: Pause::Yield,
        }],
    )
}

both_sides! {
    yield_observer_pop_n1_producer_spawned, yield_observer_pop_n1_consumer_spawned => |side| {
        yielding_consumer().check::<1>(side);
    }
}

/// A full ring; the producer retries with `yield_now` while a consumer
/// frees the slot, so the pop's freeing store is observed.
fn yielding_producer() -> Scenario {
    Scenario::new(
        vec![Role::Produce {
            ids: vec![1],
            attempts: 3,
            pause: Pause::Yield,
        }],
        vec![consume(1, 1)],
    )
    .prefill(1)
}

both_sides! {
    yield_observer_push_n1_producer_spawned, yield_observer_push_n1_consumer_spawned => |side| {
        yielding_producer().check::<1>(side);
    }
}

// === 2 producers, 1 consumer ===

fn two_to_one() -> Scenario {
    Scenario::new(
        vec![produce(&[1], 1), produce(&[2], 1)],
        vec![consume(2, 2)],
    )
}

both_sides! {
    p2c1_n1_producers_spawned, p2c1_n1_consumer_spawned => |side| {
        two_to_one().check::<1>(side);
    }

    p2c1_n2_producers_spawned, p2c1_n2_consumer_spawned => |side| {
        two_to_one().check::<2>(side);
    }
}

// === 1 producer, 2 consumers ===

fn one_to_two() -> Scenario {
    Scenario::new(
        vec![produce(&[1, 2], 1)],
        vec![consume(1, 2), consume(1, 2)],
    )
}

both_sides! {
    p1c2_n1_producer_spawned, p1c2_n1_consumers_spawned => |side| {
        one_to_two().check::<1>(side);
    }

    p1c2_n2_producer_spawned, p1c2_n2_consumers_spawned => |side| {
        one_to_two().check::<2>(side);
    }
}

// === Pop then push on a full ring ===

/// A full ring; one thread pops and pushes again, another only pops. Every
/// push comes after its own thread's successful pop, so at most `N - 1`
/// items are held when any push looks, and `Full` would be a lie (`Busy`
/// is allowed: the other pop may be mid-flight on the slot).
///
/// The consumer pops twice, so that it may also take the pushed item.
fn pop_then_push() -> Scenario {
    Scenario::new(
        vec![Role::PopThenPush { id: 1, attempts: 2 }],
        vec![consume(2, 1)],
    )
}

both_sides! {
    pop_then_push_full_n1_pusher_spawned, pop_then_push_full_n1_consumer_spawned => |side| {
        pop_then_push().prefill(1).check::<1>(side);
    }

    pop_then_push_full_n2_pusher_spawned, pop_then_push_full_n2_consumer_spawned => |side| {
        pop_then_push().prefill(2).check::<2>(side);
    }
}

/// Two threads pop then push on a full ring of two, racing one consumer.
#[test]
fn pop_then_push_full_n2_two_pushers() {
    let scenario = Scenario::new(
        vec![
            Role::PopThenPush { id: 1, attempts: 1 },
            Role::PopThenPush { id: 2, attempts: 1 },
        ],
        vec![consume(1, 1)],
    )
    .prefill(2);
    scenario.clone().check::<2>(Side::FirstSpawned);
    scenario.check::<2>(Side::SecondSpawned);
}

// === Full and empty edges under races ===

/// One item short of full: the producer's second push is `Full` only if
/// the consumer has not yet claimed the prefilled item; the consumer's
/// pops are `Empty` only once every claimed push is claimed by a pop.
fn almost_full() -> Scenario {
    Scenario::new(vec![produce(&[1, 2], 1)], vec![consume(2, 1)]).prefill(1)
}

both_sides! {
    edges_almost_full_n2_producer_spawned, edges_almost_full_n2_consumer_spawned => |side| {
        almost_full().check::<2>(side);
    }
}

/// Two producers race for the last free slot while nobody pops: exactly
/// one push can succeed, and `Full` only once it has.
fn last_slot() -> Scenario {
    Scenario::new(vec![produce(&[1], 2)], vec![produce(&[2], 2)]).prefill(1)
}

#[test]
fn edges_last_slot_n2() {
    last_slot().check::<2>(Side::FirstSpawned);
    last_slot().check::<2>(Side::SecondSpawned);
}

/// Two consumers race for the only item while nobody pushes: one gets it,
/// the other sees `Empty` (or `Busy`), never both `Empty`.
fn last_item() -> Scenario {
    Scenario::new(vec![consume(1, 2)], vec![consume(1, 2)]).prefill(1)
}

#[test]
fn edges_last_item_n1() {
    last_item().check::<1>(Side::FirstSpawned);
    last_item().check::<1>(Side::SecondSpawned);
}

#[test]
fn edges_last_item_n2() {
    last_item().check::<2>(Side::FirstSpawned);
}

// === Laps and counter wrap-around ===

/// Two items through a ring after the counters have already made some
/// whole laps: with `N = 1` every push starts a new lap. (Three items at
/// `N = 1` take minutes at two preemptions.)
fn laps() -> Scenario {
    Scenario::new(vec![produce(&[1, 2], 2)], vec![consume(2, 2)])
}

both_sides! {
    laps_n1_producer_spawned, laps_n1_consumer_spawned => |side| {
        laps().warm_laps(2).check::<1>(side);
    }

    laps_n2_producer_spawned, laps_n2_consumer_spawned => |side| {
        laps()
            .warm_laps(1)
            .prefill(1)
            .check::<2>(side);
    }
}

/// The counters wrap around to zero during the race: they start one lap
/// before the wrap, the set-up's exact-edge check uses that lap, and the
/// race pushes and pops across the wrap.
#[test]
#[cfg_attr(
    not(feature = "__test_hooks"),
    ignore = "needs the hidden __test_hooks feature"
)]
fn counter_wrap_n1_producer_spawned() {
    laps().near_wrap(2).check::<1>(Side::FirstSpawned);
}

#[test]
#[cfg_attr(
    not(feature = "__test_hooks"),
    ignore = "needs the hidden __test_hooks feature"
)]
fn counter_wrap_n1_consumer_spawned() {
    laps().near_wrap(2).check::<1>(Side::SecondSpawned);
}

/// Counters near the wrap with a prefill, so the race straddles the wrap:
/// the prefilled item sits in the last lap before it.
#[test]
#[cfg_attr(
    not(feature = "__test_hooks"),
    ignore = "needs the hidden __test_hooks feature"
)]
fn counter_wrap_n2_producer_spawned() {
    two_across_wrap().check::<2>(Side::FirstSpawned);
}

#[test]
#[cfg_attr(
    not(feature = "__test_hooks"),
    ignore = "needs the hidden __test_hooks feature"
)]
fn counter_wrap_n2_consumer_spawned() {
    two_across_wrap().check::<2>(Side::SecondSpawned);
}

fn two_across_wrap() -> Scenario {
    // Two laps before the wrap: the set-up's edge check uses one, the
    // prefilled item takes index 0 of the last, and the race's two pushes
    // take index 1 of the last lap and index 0 after the wrap.
    Scenario::new(vec![produce(&[1, 2], 2)], vec![consume(2, 2)])
        .near_wrap(2)
        .prefill(1)
}

/// Wraps with nothing but the race: `__near_counter_wrap(1)` and no
/// sequential laps, checked with a one-item ring.
#[test]
#[cfg_attr(
    not(feature = "__test_hooks"),
    ignore = "needs the hidden __test_hooks feature"
)]
fn counter_wrap_in_race_n1() {
    model(|| {
        let ring = Arc::new(near_wrap_ring::<1>(1).expect(NEEDS_HOOKS));
        let producer = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || {
                let mut ledger = Ledger::default();
                let _ = ledger.push(&ring, 1, 2, Pause::None);
                let _ = ledger.push(&ring, 2, 2, Pause::None);
                ledger
            })
        };
        let mut consumer = Ledger::default();
        let _ = consumer.pop(&ring, 2, Pause::None);
        let _ = consumer.pop(&ring, 2, Pause::None);
        let producer = producer.join().expect("producer panicked");
        let drained = drain_quiescent(&ring);
        assert_conserved(&[], &[&producer, &consumer], &drained);
        assert_quiescent_edges(&ring, AFTER_ID);
    });
}

// === Leaks ===

/// Items left in the ring when the last handle drops are dropped by
/// `Ring::drop`; loom's leak tracking fails the model otherwise. The last
/// thread to finish drops the ring, possibly a spawned one.
#[test]
fn leak_ring_dropped_holding_items() {
    let scenario = Scenario::new(
        vec![produce(&[1], 1), produce(&[2], 1)],
        vec![consume(1, 1)],
    )
    .prefill(1)
    .no_drain();
    scenario.clone().check::<2>(Side::FirstSpawned);
    scenario.check::<2>(Side::SecondSpawned);
}

/// Dropping rings directly: empty, partly full, full, and after wrapping
/// (across the counter wrap where the `__test_hooks` feature allows).
#[test]
fn leak_sequential_drops() {
    model(|| {
        drop(Ring::<Item, 2>::new());
        let ring = Ring::<Item, 2>::new();
        assert!(ring.try_push(Item::new(1)).is_ok());
        drop(ring);
        let ring = near_wrap_ring::<2>(1).unwrap_or_default();
        for id in 0..3 {
            assert!(ring.try_push(Item::new(id)).is_ok());
            assert_eq!(ring.try_pop().map(|item| item.id()), Ok(id));
        }
        assert!(ring.try_push(Item::new(3)).is_ok());
        assert!(ring.try_push(Item::new(4)).is_ok());
        match ring.try_push(Item::new(5)) {
            Err(PushError::Full(item)) => assert_eq!(item.id(), 5),
            other => panic!("expected Full, got {other:?}"),
        }
        drop(ring);
    });
}
