//! The critical-section backend: the push and pop behind [`Ring::try_push`]
//! and [`Ring::try_pop`] for targets without atomic compare-and-swap (Cortex-M0/M0+, RV32 without the `A`
//! extension), and for host tests under `--cfg taskring_force_cs`.
//!
//! The ring's state is the same as in the CAS backend: the stamps, `head`
//! and `tail` of the [parent module](super), in the same encoding. Each
//! operation runs as **one** `critical_section::with`, in which it uses
//! only plain loads and stores of that state: nothing else touches the ring
//! while the section is held, so no compare-and-swap is needed and no
//! operation is ever in flight when another one looks. Consequences:
//!
//! * one iteration, no retry loop, and no `Busy` from a real program (it is
//!   kept only for a test hook that re-enters the ring from inside an
//!   operation, which no interrupt handler can do);
//! * the time interrupts stay masked is bounded: a few loads, compares and
//!   stores plus one move of `T`;
//! * it is **not lock-free**: a context that wants the ring waits while
//!   another holds the critical section. It is interrupt-safe (a handler
//!   cannot preempt a section, and a section never waits inside itself)
//!   and bounded-time.
//!
//! Orderings inside a section are `Relaxed`: the critical section itself
//! orders every access to the ring's state and values (a mutex on hosts
//! and multi-core parts, masked interrupts plus a compiler fence on a single
//! core). The one `Relaxed` load outside a section, in `is_closed`, reads a
//! mark that is set once and never cleared.

use super::{Rejected, Ring, CLOSED, POSITION_MASK};
use crate::{
    error::PopError,
    loom::{critical, Ordering},
};

impl<T, const N: usize> Ring<T, N> {
    /// Marks the ring closed: from now on every push fails with
    /// [`Rejected::Closed`]. Pops go on draining. Idempotent.
    pub(crate) fn close(&self) {
        critical(|cs| {
            // Relaxed: ordered by the critical section.
            let tail = self.tail().load(Ordering::Relaxed);
            self.tail().store_in(tail | CLOSED, Ordering::Relaxed, cs);
        });
    }

    /// `(head, tail)` for [`len`](Self::len), read in one critical section:
    /// no operation runs in between, so the pair is always consistent and
    /// exact at the moment it is taken (no reread is needed, unlike the CAS
    /// backend).
    #[inline]
    pub(super) fn counters(&self) -> (usize, usize) {
        critical(|_| {
            // Relaxed: ordered by the critical section.
            (
                self.head().load(Ordering::Relaxed),
                self.tail().load(Ordering::Relaxed),
            )
        })
    }

    /// The push algorithm: the CAS backend's single iteration, in one
    /// critical section; behind [`try_push`](Self::try_push), for a ring
    /// that is never closed (any ring but a pool's, which pushes with
    /// [`push_depth`](Self::push_depth)): it never looks for the closed
    /// mark.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), Rejected<T>> {
        self.push_then::<false, _>(value, |_| ())
    }

    /// [`push`](Self::push), and on success the queue depth just after it,
    /// clamped to `1..=N`. Here it is exact: `head` is read in the push's
    /// own critical section, so no other operation runs in between.
    #[inline]
    pub(crate) fn push_depth(&self, value: T) -> Result<usize, Rejected<T>> {
        self.push_then::<true, _>(value, |claimed| {
            // Relaxed: inside the push's critical section (`push_then`
            // calls this closure there), which orders it.
            let head = self.head().load(Ordering::Relaxed);
            Self::items_between(head, Self::next(claimed)).max(1)
        })
    }

    /// True when a push could find room now: the ring is neither full nor
    /// closed. A closed ring has no room, so a caller that waits for room
    /// must also watch for the close. Read in one critical section, so
    /// exact when taken; it may be stale by the time the caller pushes.
    // Only the thread pool (`std`) asks.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        critical(|_| {
            // Relaxed, here and below: ordered by the critical section.
            let tail = self.tail().load(Ordering::Relaxed);
            tail & CLOSED == 0 && Self::items_between(self.head().load(Ordering::Relaxed), tail) < N
        })
    }

    /// The push algorithm; on success, calls `then` with the position the
    /// push claimed, inside the critical section, after publishing the
    /// value. `CLOSABLE` is false only for rings that are never closed.
    #[inline(always)]
    fn push_then<const CLOSABLE: bool, R>(
        &self,
        value: T,
        then: impl FnOnce(usize) -> R,
    ) -> Result<R, Rejected<T>> {
        critical(|cs| {
            hook!(self, Attempt);
            // Relaxed, here and below: ordered by the critical section.
            let tail = self.tail().load(Ordering::Relaxed);
            if CLOSABLE && tail & CLOSED != 0 {
                return Err(Rejected::Closed(value));
            }
            debug_assert!(tail & CLOSED == 0, "this is a bug in taskring");
            let (stamp, cell) = self.slot(tail);
            let free = Self::free_stamp(tail);
            if stamp.load(Ordering::Relaxed) == free {
                // Free for this lap: claim position `tail`.
                self.tail()
                    .store_in(Self::next(tail), Ordering::Relaxed, cs);
                // Inside the critical section: no interrupt handler or other
                // core can run between this point and the publish below.
                // Only a test hook that re-enters the ring sees the claim.
                hook!(self, PushClaimed);
                // SAFETY: The stamp said the slot is free for position
                // `tail`, and we moved `tail` past it while holding the
                // critical section: no other push can claim the position,
                // and no pop touches the slot until the stamp below says
                // full.
                unsafe { cell.write(value) };
                // A plain store: stamps are only touched inside critical
                // sections, so no read-modify-write can interleave with it.
                stamp.store(free.wrapping_add(Self::STAMP_STEP), Ordering::Relaxed);
                return Ok(then(tail));
            }
            let head = self.head().load(Ordering::Relaxed);
            if head.wrapping_add(Self::ONE_LAP) & POSITION_MASK == tail {
                Err(Rejected::Full(value))
            } else {
                // Only when a test hook re-entered the ring from inside an
                // operation that has claimed this slot.
                Err(Rejected::Busy(value))
            }
        })
    }

    /// The pop algorithm: the CAS backend's single iteration, in one
    /// critical section; behind [`try_pop`](Self::try_pop).
    #[inline]
    pub(super) fn pop(&self) -> Result<T, PopError> {
        critical(|cs| {
            hook!(self, Attempt);
            // Relaxed, here and below: ordered by the critical section.
            let head = self.head().load(Ordering::Relaxed);
            let (stamp, cell) = self.slot(head);
            let full = Self::free_stamp(head).wrapping_add(Self::STAMP_STEP);
            if stamp.load(Ordering::Relaxed) == full {
                // Published for this lap: claim position `head`.
                self.head()
                    .store_in(Self::next(head), Ordering::Relaxed, cs);
                // Inside the critical section, as in `push`: nothing but a
                // re-entering test hook runs between here and the free.
                hook!(self, PopClaimed);
                // SAFETY: The stamp said the slot holds the value pushed at
                // position `head`, initialized by a push whose critical
                // section ended before ours began. We moved `head` past it
                // while holding the critical section, so no other pop can
                // claim it, and no push touches it until the stamp below
                // says free.
                let value = unsafe { cell.read() };
                // A plain store, as in `push`.
                stamp.store(full.wrapping_add(Self::STAMP_STEP), Ordering::Relaxed);
                return Ok(value);
            }
            if self.tail().load(Ordering::Relaxed) & POSITION_MASK == head {
                Err(PopError::Empty)
            } else {
                // Only when a test hook re-entered the ring from inside an
                // operation that has claimed this slot.
                Err(PopError::Busy)
            }
        })
    }
}
