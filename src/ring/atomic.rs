//! The compare-and-swap backend: the push and pop behind
//! [`Ring::try_push`] and [`Ring::try_pop`] for targets with atomic CAS.
//! The algorithm and its orderings are narrated in the
//! [parent module](super).

use core::mem::{ManuallyDrop, MaybeUninit};

use super::{Rejected, Ring, CLOSED, HEAD, POSITION_MASK, TAIL};
use crate::{
    error::PopError,
    loom::{fence, load_latest, Ordering},
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

/// The ordering of the claim's stamp load: `Relaxed` plus an `Acquire`
/// fence after a successful claim, except in the ThreadSanitizer build.
#[cfg(not(taskring_tsan))]
const STAMP_LOAD: Ordering = Ordering::Relaxed;
/// The ordering of the claim's stamp load: `Acquire` in the
/// ThreadSanitizer build, which does not model the fence.
#[cfg(taskring_tsan)]
const STAMP_LOAD: Ordering = Ordering::Acquire;

/// How many times [`Ring::len`] reads its `(tail, head, tail)` triple
/// before it settles for a pair that may not have coexisted. Bounded, so
/// `len` is bounded-time too. (`len`'s docs state the number.)
const LEN_ATTEMPTS: usize = 8;

impl<T, const N: usize> Ring<T, N> {
    /// Marks the ring closed: from now on every push fails with
    /// [`Rejected::Closed`]. Pushes that claimed a slot before still
    /// complete, and pops go on draining. Idempotent.
    pub(crate) fn close(&self) {
        // Acquire: pairs with the `Release` claim CAS of every push before
        // it (they form one release sequence of RMWs on `tail`), so what
        // those pushers did first (the pool's submit count) is visible
        // after the close. Every claim is ordered before or after this RMW.
        self.tail().fetch_or(CLOSED, Ordering::Acquire);
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
        let mut tail = self.tail().load(Ordering::Acquire);
        let mut attempt = 1;
        loop {
            // Acquire: pairs with the claim CAS on `head` (the `Release`
            // half of its `SeqCst`). The pop that claimed position `h - 1`
            // saw the `Release` publish of the push at `h - 1`, which came
            // after that push's claim CAS on `tail`; so the reread of
            // `tail` below is at least `h`.
            let head = self.head().load(Ordering::Acquire);
            hook!(self, LenRead);
            let again = self.tail().load(Ordering::Acquire);
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
    #[inline]
    pub(crate) fn push_depth(&self, value: T) -> Result<usize, Rejected<T>> {
        self.push_then(value, |claimed| {
            // SeqCst: pairs with the `SeqCst` claim CASes on `head` and
            // `tail`. In their single total order our claim CAS on `tail`
            // comes before this load, and the load reads the last claim on
            // `head` before it: so `claimed + 1 - head` is at most the
            // number of positions claimed by pushes and not yet by pops at
            // that point. (On x86-64 a `SeqCst` load is a plain load.)
            let head = self.head().load(Ordering::SeqCst);
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
    // Only the thread pool (`std`) asks.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        // Relaxed: read before `head`, a stale `tail` can only make the
        // ring look less full (a spurious `true`), never full when it is
        // not.
        let tail = self.tail().load(Ordering::Relaxed);
        if tail & CLOSED != 0 {
            return false;
        }
        // The `SeqCst` fence and load of the full check: pairs with the
        // `SeqCst` claim CAS on `head` of every pop (see the orderings table).
        let head = load_latest(self.head());
        Self::items_between(head, tail) < N
    }

    /// Claims the next position at one end of the ring: at `tail`
    /// ([`TAIL`]) the position a push writes, at `head` ([`HEAD`]) the one a
    /// pop reads. Both operations share this loop; they differ only in which
    /// counter they move, which stamp says "ready", and which edge (`Full`,
    /// `Empty`) the other counter reveals.
    ///
    /// Returns the position, or a refusal ([`REFUSED_EDGE`],
    /// [`REFUSED_BUSY`], [`REFUSED_CLOSED`], which carry the closed mark
    /// that no position has), in one word. On success the
    /// slot is ready: for a push free for this lap and its previous value
    /// moved out; for a pop holding the value pushed at that position,
    /// visible to this thread.
    #[inline(always)]
    fn claim(&self, end: usize) -> usize {
        let end = end & 1;
        let own = &*self.counters[end];
        let other = &*self.counters[end ^ 1];
        // The stamp, relative to "free for this lap", that lets this end
        // claim: "holds a value" for a pop, "free" for a push.
        let ready = (end as u8) * Self::STAMP_STEP;
        // How far our counter is from the other one when the ring is full
        // (push: one lap) or empty (pop: 0).
        let edge = (end ^ 1) << Self::LAP_SHIFT;
        let mut attempts = MAX_CLAIM_ATTEMPTS;
        // The hook marks each counted attempt: here and after each failed
        // one below, never on a spurious failure's retry.
        hook!(self, Attempt);
        loop {
            // Acquire: pairs with the claim CAS on this counter of every
            // operation before (a release; all writes to `head` and `tail`
            // are read-modify-writes, so one release sequence reaches the
            // value read), among them the one a lap before ours on the same
            // slot, which read the slot's stamp as ready for it. So the
            // stamp load below reads that stamp or a later one: one of the
            // three of the previous and this lap that `behind` tells apart,
            // never an older one that a one-byte stamp would confuse with
            // them.
            let position = own.load(Ordering::Acquire);
            if position & CLOSED != 0 {
                // Only `tail` carries the mark.
                return REFUSED_CLOSED;
            }
            let (stamp, _) = self.slot(position);
            // Relaxed: the `Acquire` fence after a successful claim orders
            // it; the other outcomes read no data. ThreadSanitizer does not
            // model standalone fences, so its build (`--cfg taskring_tsan`)
            // loads with `Acquire` instead, which gives it the same edge.
            let seen = stamp.load(STAMP_LOAD);
            let behind = Self::free_stamp(position)
                .wrapping_add(ready)
                .wrapping_sub(seen);
            if behind == 0 {
                // Fast path: the slot is ready for this lap. Claim
                // `position`.
                // SeqCst on success: pairs with the `SeqCst` fence before
                // the other end's full or empty check (`load_latest`), so
                // an operation that looks after this claim sees it and
                // never reports a false `Full` or `Empty`. As a release, a
                // push's claim also pairs with the `Acquire` in `close`
                // (through the release sequence of RMWs on `tail`), so what
                // the caller did before the push (the pool's submit count)
                // happens before a later close. The data itself is ordered
                // by the stamps. Relaxed on failure: the next iteration
                // reads the counter again.
                match own.compare_exchange_weak(
                    position,
                    Self::next(position),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // Acquire: with the stamp load above, pairs with the
                        // `Release` stamp store that made the slot ready
                        // (a pop's free for a push, so the old value was
                        // moved out before we write; a push's publish for a
                        // pop, so its value is visible before we read).
                        fence(Ordering::Acquire);
                        return position;
                    }
                    // A spurious failure of the weak CAS (on load-linked /
                    // store-conditional cores, an interrupt between the
                    // two): try again without counting it, as a strong CAS
                    // retries inside itself.
                    Err(current) if current == position => continue,
                    // Another operation at this end claimed `position`
                    // first.
                    Err(_) => {}
                }
            } else if behind <= 2 * Self::STAMP_STEP {
                // The slot is one or two steps behind: still in the
                // previous lap (push: the value there was not popped, or
                // that lap's push or pop is in flight; pop: this lap's push
                // has not published, or the previous pop is in flight).
                // Read the latest other counter, which a plain load need
                // not see.
                let latest = load_latest(other);
                if latest.wrapping_add(edge) & POSITION_MASK == position {
                    return REFUSED_EDGE;
                }
                // Relaxed: an unchanged counter means no operation at this
                // end claimed a position meanwhile, so the operation on
                // this slot is in flight.
                if own.load(Ordering::Relaxed) == position {
                    return REFUSED_BUSY;
                }
            }
            // Otherwise another operation at this end already used
            // `position`.
            attempts -= 1;
            if attempts == 0 {
                return REFUSED_BUSY;
            }
            hook!(self, Attempt);
        }
    }

    /// One whole push (at [`TAIL`]) or pop (at [`HEAD`]): claims a
    /// position with [`claim`](Self::claim), moves the value from `buffer`
    /// into its slot (push) or out of the slot into `buffer` (pop), and
    /// hands the slot on by storing its next stamp. Returns the position,
    /// or `claim`'s refusal, in which case `buffer` is untouched.
    ///
    /// Both directions are one function, so that on bare-metal targets,
    /// where it is out of line, push and pop share one copy of it in flash.
    /// Elsewhere it is inlined and `end` is a constant.
    ///
    /// # Safety
    ///
    /// At `TAIL`, `buffer` points to an initialized `T` that the call moves
    /// out of when it returns a position (the caller must then forget it).
    /// At `HEAD`, `buffer` is valid for a write of one `T`, which the call
    /// initializes when it returns a position.
    #[cfg_attr(
        any(
            taskring_compact,
            all(target_os = "none", not(feature = "cache-padded"))
        ),
        inline(never)
    )]
    #[cfg_attr(
        not(any(
            taskring_compact,
            all(target_os = "none", not(feature = "cache-padded"))
        )),
        inline(always)
    )]
    unsafe fn transfer(&self, end: usize, buffer: *mut T) -> usize {
        let position = self.claim(end);
        if position & CLOSED != 0 {
            return position;
        }
        let (stamp, cell) = self.slot(position);
        if end == TAIL {
            hook!(self, PushClaimed);
            // SAFETY: The caller guarantees that `buffer` holds a `T` for
            // us to move out.
            let value = unsafe { buffer.read() };
            // SAFETY: `claim` claimed `position` at the tail: its slot is
            // free and its previous value was moved out, no other push can
            // claim the same position, and no pop touches the slot until
            // the stamp below says full.
            unsafe { cell.write(value) };
        } else {
            hook!(self, PopClaimed);
            // SAFETY: `claim` claimed `position` at the head: its slot holds
            // the value pushed there, visible to this thread, and no other
            // pop can claim it.
            let value = unsafe { cell.read() };
            // SAFETY: The caller guarantees that `buffer` is valid for the
            // write.
            unsafe { buffer.write(value) };
        }
        // The stamp after the one `claim` waited for: "holds a value" after
        // "free" (push), "free for the next lap" after "holds a value" (pop).
        let ready = (end as u8) * Self::STAMP_STEP;
        let next = Self::free_stamp(position)
            .wrapping_add(ready)
            .wrapping_add(Self::STAMP_STEP);
        if end == TAIL {
            // PUBLISH (Release): pairs with the `Acquire` fence after a
            // pop's claim, so the write above is visible to the pop that
            // claims this value.
            stamp.store(next, PUBLISH);
        } else {
            // Release: pairs with the `Acquire` fence after the claim of
            // the push a lap later, so our read happens before the next
            // write.
            stamp.store(next, Ordering::Release);
        }
        position
    }

    /// The push algorithm; on success, calls `then` with the position the
    /// push claimed, after publishing the value.
    #[inline(always)]
    fn push_then<R>(&self, value: T, then: impl FnOnce(usize) -> R) -> Result<R, Rejected<T>> {
        let mut value = ManuallyDrop::new(value);
        // SAFETY: `value` is an initialized `T`, and it is forgotten (a
        // `ManuallyDrop`) unless the push refuses and leaves it alone.
        let position = unsafe { self.transfer(TAIL, &mut *value) };
        if position & CLOSED == 0 {
            return Ok(then(position));
        }
        let value = ManuallyDrop::into_inner(value);
        Err(match position {
            REFUSED_EDGE => Rejected::Full(value),
            REFUSED_CLOSED => Rejected::Closed(value),
            _ => Rejected::Busy(value),
        })
    }

    /// The pop algorithm (see the module docs), behind
    /// [`try_pop`](Self::try_pop).
    #[inline]
    pub(super) fn pop(&self) -> Result<T, PopError> {
        let mut value = MaybeUninit::<T>::uninit();
        // SAFETY: `value` is valid for a write of one `T`.
        let position = unsafe { self.transfer(HEAD, value.as_mut_ptr()) };
        if position & CLOSED == 0 {
            // SAFETY: `transfer` returned a position, so it initialized
            // `value`.
            return Ok(unsafe { value.assume_init() });
        }
        if position == REFUSED_EDGE {
            Err(PopError::Empty)
        } else {
            // `head` never carries the closed mark: `Busy`.
            Err(PopError::Busy)
        }
    }
}

/// [`claim`](Ring::claim)'s answers other than a position: the ring was full (at
/// the tail) or empty (at the head).
const REFUSED_EDGE: usize = CLOSED;
/// Another operation was in flight on the slot, or the claim race was lost
/// [`MAX_CLAIM_ATTEMPTS`] times.
const REFUSED_BUSY: usize = CLOSED | CLOSED >> 1;
/// The ring was closed (only at the tail).
const REFUSED_CLOSED: usize = CLOSED | CLOSED >> 2;
