//! The compare-and-swap backend: the push and pop behind
//! [`Ring::try_push`] and [`Ring::try_pop`] for targets with atomic CAS.
//! The algorithm and its orderings are narrated in the
//! [parent module](super).

use super::{Rejected, Ring, CLOSED, LEN_ATTEMPTS, POSITION_MASK};
use crate::{
    error::PopError,
    loom::{load_latest, Ordering},
    ring::MAX_CLAIM_ATTEMPTS,
};

/// Ordering of the store that publishes a pushed value.
///
/// `Release` pairs with the `Acquire` stamp load in `pop`. The
/// `taskring_mutant = "publish"` build weakens it to prove that the loom
/// suite notices.
#[cfg(not(taskring_mutant = "publish"))]
const PUBLISH: Ordering = Ordering::Release;
#[cfg(taskring_mutant = "publish")]
const PUBLISH: Ordering = Ordering::Relaxed;

impl<T, const N: usize> Ring<T, N> {
    /// Marks the ring closed: from now on every push fails with
    /// [`Rejected::Closed`]. Pushes that claimed a slot before still
    /// complete, and pops go on draining. Idempotent.
    #[allow(dead_code)] // Used by the pool.
    pub(crate) fn close(&self) {
        // Acquire: pairs with the `Release` claim CAS of every push before
        // it (they form one release sequence of RMWs on `tail`), so what
        // those pushers did first (the pool's submit count) is visible
        // after the close. Every claim is ordered before or after this RMW.
        self.tail.fetch_or(CLOSED, Ordering::Acquire);
    }

    /// Signed distance from position `b` to position `a`, correct across
    /// wrap-around of positions (which live below the closed mark).
    #[inline(always)]
    const fn distance(a: usize, b: usize) -> isize {
        // Shifting out the closed-mark bit makes the subtraction modulo
        // 2^(BITS - 1); the arithmetic shift restores the magnitude.
        (a.wrapping_sub(b) << 1) as isize >> 1
    }

    /// `(head, tail)` for [`len`](Self::len): a consistent pair, read as
    /// `tail`, `head`, `tail` until `tail` did not move, at most
    /// [`LEN_ATTEMPTS`] times; then the last `head` and `tail` read.
    ///
    /// With `t1` and `t2` the two `tail` loads and `h` the `head` load in
    /// between, the `Acquire` loads give `t1 - N <= h <= t2`: so when
    /// `t1 == t2`, `0 <= t2 - h <= N`, and the pair coexisted in the sense
    /// that `tail` held `t2` while `head` was read.
    #[inline]
    pub(super) fn counters(&self) -> (usize, usize) {
        // Acquire, here and for the reread below (which becomes the next
        // attempt's first read): pairs with the claim CAS on `tail` (the
        // `Release` half of its `SeqCst`). The push that claimed position
        // `t - 1` saw its slot freed by the `Release` free of the pop a lap
        // before, whose claim CAS on `head` came first; so `head` read
        // after this load is at least `t - N`.
        let mut tail = self.tail.load(Ordering::Acquire);
        let mut attempt = 1;
        loop {
            // Acquire: pairs with the claim CAS on `head` (the `Release`
            // half of its `SeqCst`). The pop that claimed position `h - 1`
            // saw the `Release` publish of the push at `h - 1`, which came
            // after that push's claim CAS on `tail`; so the reread of
            // `tail` below is at least `h`.
            let head = self.head.load(Ordering::Acquire);
            let again = self.tail.load(Ordering::Acquire);
            // Positions only grow (modulo the ABA horizon of the module
            // docs), so an equal value means `tail` did not move.
            if again == tail || attempt == LEN_ATTEMPTS {
                return (head, again);
            }
            tail = again;
            attempt += 1;
        }
    }

    /// The push algorithm (see the module docs), behind
    /// [`try_push`](Self::try_push).
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), Rejected<T>> {
        self.push_then(value, |_| ())
    }

    /// [`push`](Self::push), and on success the queue depth just after it:
    /// the items from a fresh read of `head` up to and including the
    /// position this push claimed, clamped to `1..=N`.
    ///
    /// The depth is never more than the ring held (pushes in flight
    /// included) at the moment of that `head` read, which comes after the
    /// claim; it may be less, if pushes after ours are not counted.
    #[allow(dead_code)] // Used by the pool.
    #[inline]
    pub(crate) fn push_depth(&self, value: T) -> Result<usize, Rejected<T>> {
        self.push_then(value, |claimed| {
            // SeqCst: pairs with the `SeqCst` claim CASes on `head` and
            // `tail`. In their single total order our claim CAS on `tail`
            // comes before this load, and the load reads the last claim on
            // `head` before it: so `claimed + 1 - head` is at most the
            // number of positions claimed by pushes and not yet by pops at
            // that point. (On x86-64 a `SeqCst` load is a plain load.)
            let head = self.head.load(Ordering::SeqCst);
            Self::items_between(head, Self::next(claimed)).max(1)
        })
    }

    /// True when a push could find room now: the ring is neither full nor
    /// closed. A closed ring has no room, so a caller that waits for room
    /// must also watch for the close.
    ///
    /// `false` means the ring was closed, or the `tail` this call read was
    /// `N` ahead of the latest `head` (read as the full check of a push
    /// reads it): a pop whose claim precedes this call's `SeqCst` fence is
    /// seen. `true` may be stale by the time the caller pushes.
    #[allow(dead_code)] // Used by the pool.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        // Relaxed: read before `head`, a stale `tail` can only make the
        // ring look less full (a spurious `true`), never full when it is
        // not.
        let tail = self.tail.load(Ordering::Relaxed);
        if tail & CLOSED != 0 {
            return false;
        }
        // The `SeqCst` fence and load of the full check: pairs with the
        // `SeqCst` claim CAS on `head` of every pop (see the orderings table).
        let head = load_latest(&self.head);
        Self::items_between(head, tail) < N
    }

    /// The push algorithm; on success, calls `then` with the position the
    /// push claimed, after publishing the value.
    #[inline(always)]
    fn push_then<R>(&self, value: T, then: impl FnOnce(usize) -> R) -> Result<R, Rejected<T>> {
        // Relaxed: only a guess at the position; the stamp decides.
        let mut tail = self.tail.load(Ordering::Relaxed);
        for _ in 0..MAX_CLAIM_ATTEMPTS {
            hook!(self, Attempt);
            let slot = self.slot(tail);
            // Acquire: pairs with the `Release` in `pop` that freed this
            // slot, so the previous value was moved out before we write.
            let stamp = slot.stamp.load(Ordering::Acquire);
            // Fast path: the slot is free for this lap. (A stamp never
            // carries the closed mark, so a closed tail never matches.)
            if stamp == tail {
                // Claim position `tail`.
                // SeqCst on success, for two pairings: (1) with the `SeqCst`
                // fence before a pop's empty check (`load_latest`), so that
                // a pop which looks after this claim sees the new tail and
                // never reports a false `Empty`; (2) as a release, with the
                // `Acquire` in `close` (through the release sequence of RMWs
                // on `tail`), so what the caller did before this push (the
                // pool's submit count) happens before a later close. The
                // data itself is ordered by the stamps. Relaxed on failure:
                // we only retry.
                match self.tail.compare_exchange(
                    tail,
                    Self::next(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        hook!(self, PushClaimed);
                        // SAFETY: Winning the CAS from `tail` claimed the
                        // slot for position `tail`: its stamp said free, no
                        // other push can claim the same position, and no pop
                        // touches it until the stamp below says full.
                        unsafe { slot.write(value) };
                        // PUBLISH (Release): pairs with the `Acquire` stamp
                        // load in `pop`, so the write above is visible
                        // to the pop that claims this value.
                        slot.stamp.store(tail.wrapping_add(1), PUBLISH);
                        return Ok(then(tail));
                    }
                    // Another push claimed `tail` first (or the ring was
                    // closed); retry at the tail it saw.
                    Err(current) => tail = current,
                }
                continue;
            }
            if tail & CLOSED != 0 {
                return Err(Rejected::Closed(value));
            }
            if Self::distance(stamp, tail) < 0 {
                // The slot is still in the previous lap: unpopped (maybe
                // full), or an operation of that lap is in flight on it.
                // Read the latest `head`, which a plain load need not see.
                let head = load_latest(&self.head);
                if head.wrapping_add(Self::ONE_LAP) & POSITION_MASK == tail {
                    return Err(Rejected::Full(value));
                }
                let current = self.tail.load(Ordering::Relaxed);
                if current == tail {
                    return Err(Rejected::Busy(value));
                }
                tail = current;
            } else {
                // Another push already used position `tail`.
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
        Err(Rejected::Busy(value))
    }

    /// The pop algorithm (see the module docs), behind
    /// [`try_pop`](Self::try_pop).
    #[inline]
    pub(super) fn pop(&self) -> Result<T, PopError> {
        // Relaxed: only a guess at the position; the stamp decides.
        let mut head = self.head.load(Ordering::Relaxed);
        for _ in 0..MAX_CLAIM_ATTEMPTS {
            hook!(self, Attempt);
            let slot = self.slot(head);
            // Acquire: pairs with the `Release` publish in `push`, so
            // the value it wrote is visible before we read it.
            let stamp = slot.stamp.load(Ordering::Acquire);
            // Fast path: published for this lap.
            if stamp == head.wrapping_add(1) {
                // Claim position `head`.
                // SeqCst on success: pairs with the `SeqCst` fence before a
                // push's full check (`load_latest`), so a push that looks
                // after this claim sees the new head and never reports a
                // false `Full`. Relaxed on failure: we only retry.
                match self.head.compare_exchange(
                    head,
                    Self::next(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        hook!(self, PopClaimed);
                        // SAFETY: Winning the CAS from `head` claimed the
                        // value at position `head`: the stamp (loaded with
                        // `Acquire`, pairing with the publish) said it is
                        // initialized, and no other pop can claim it.
                        let value = unsafe { slot.read() };
                        // Release: pairs with the `Acquire` stamp load in
                        // `push` a lap later, so our read happens before
                        // the next write.
                        let freed = head.wrapping_add(Self::ONE_LAP) & POSITION_MASK;
                        slot.stamp.store(freed, Ordering::Release);
                        return Ok(value);
                    }
                    // Another pop claimed `head` first; retry at its head.
                    Err(current) => head = current,
                }
                continue;
            }
            if Self::distance(stamp, head.wrapping_add(1)) < 0 {
                // Not published for this lap: empty, or a push of this lap
                // (or a pop of the previous lap) is in flight on the slot.
                // Read the latest `tail`, which a plain load need not see.
                let tail = load_latest(&self.tail);
                if tail & POSITION_MASK == head {
                    return Err(PopError::Empty);
                }
                let current = self.head.load(Ordering::Relaxed);
                if current == head {
                    return Err(PopError::Busy);
                }
                head = current;
            } else {
                // Another pop already took position `head`.
                head = self.head.load(Ordering::Relaxed);
            }
        }
        Err(PopError::Busy)
    }
}
