//! [`Ticks`]: a shared tick count (a stamp, a longest wait) that stays
//! exact past 2^32 ticks on every target, also where there is no 64-bit
//! atomic.
//!
//! * Where the target has 64-bit atomics, a [`Wide`] count is one
//!   `AtomicU64`.
//! * Elsewhere (thumbv6m, thumbv7em, thumbv8m.main, riscv32, and host
//!   tests built with `--cfg taskring_narrow_ticks`), with the
//!   `critical-section` feature, a [`Locked`] count is two 32-bit halves
//!   read and written in a critical section: one word more than a 32-bit
//!   count.
//! * Elsewhere without that feature, a [`Split`] count keeps two copies of
//!   the halves behind a sequence word, so that a read never sees the
//!   halves of two different values and never waits for a writer that it
//!   interrupted.
//!
//! All use only the facade's atomics (and its critical section), so the
//! loom models explore them like the rest of the pool.

#[cfg(all(target_has_atomic = "64", not(taskring_narrow_ticks)))]
use crate::loom::AtomicU64;
use crate::loom::{fence, loom_const_fn, AtomicU32, AtomicUsize, Ordering};

/// The tick count the pool keeps: see the module docs.
#[cfg(all(target_has_atomic = "64", not(taskring_narrow_ticks)))]
pub(crate) type Ticks = Wide;
/// The tick count the pool keeps: see the module docs.
#[cfg(all(
    any(not(target_has_atomic = "64"), taskring_narrow_ticks),
    feature = "critical-section"
))]
pub(crate) type Ticks = Locked;
/// The tick count the pool keeps: see the module docs.
#[cfg(all(
    any(not(target_has_atomic = "64"), taskring_narrow_ticks),
    not(feature = "critical-section")
))]
pub(crate) type Ticks = Split;

/// A tick count in one `AtomicU64`.
///
/// Every access is `Relaxed`: a tick count is a statistic; no other memory
/// is published through it, and a reader only needs some value that was
/// stored.
#[cfg(all(target_has_atomic = "64", not(taskring_narrow_ticks)))]
#[derive(Debug)]
pub(crate) struct Wide(AtomicU64);

#[cfg(all(target_has_atomic = "64", not(taskring_narrow_ticks)))]
impl Wide {
    loom_const_fn! {
        pub(crate) fn new(value: u64) -> Self {
            Self(AtomicU64::new(value))
        }
    }

    /// The count.
    #[inline]
    pub(crate) fn load(&self) -> u64 {
        // Relaxed: a statistic, see the type's docs.
        self.0.load(Ordering::Relaxed)
    }

    /// Replaces the count with `value`.
    #[inline]
    pub(crate) fn store(&self, value: u64) {
        // Relaxed: a statistic, see the type's docs.
        self.0.store(value, Ordering::Relaxed);
    }

    /// Raises the count to `value` if it is lower. A load first: most
    /// calls raise nothing and need no read-modify-write.
    #[inline]
    pub(crate) fn raise(&self, value: u64) {
        // Relaxed: a statistic, see the type's docs.
        if value > self.0.load(Ordering::Relaxed) {
            self.0.fetch_max(value, Ordering::Relaxed);
        }
    }
}

/// A tick count as two 32-bit halves, read and written in a critical
/// section (the `critical-section` feature), for targets without 64-bit
/// atomics: one word more than a 32-bit count, and no write is ever
/// dropped. A read or a write holds the section for two loads or two
/// stores (and a comparison).
#[cfg(feature = "critical-section")]
#[derive(Debug)]
#[cfg_attr(
    all(target_has_atomic = "64", not(taskring_narrow_ticks)),
    allow(dead_code) // Only the unit tests use it there.
)]
pub(crate) struct Locked {
    high: AtomicU32,
    low: AtomicU32,
}

#[cfg(feature = "critical-section")]
#[cfg_attr(
    all(target_has_atomic = "64", not(taskring_narrow_ticks)),
    allow(dead_code) // Only the unit tests use it there.
)]
impl Locked {
    loom_const_fn! {
        pub(crate) fn new(value: u64) -> Self {
            Self {
                high: AtomicU32::new((value >> 32) as u32),
                low: AtomicU32::new(value as u32),
            }
        }
    }

    /// The halves, read inside a critical section.
    #[inline]
    fn get(&self) -> u64 {
        // Relaxed: the critical section orders these accesses with every
        // other context's section; no other memory is published through
        // a tick count.
        (u64::from(self.high.load(Ordering::Relaxed)) << 32)
            | u64::from(self.low.load(Ordering::Relaxed))
    }

    /// Writes the halves, inside a critical section.
    #[inline]
    fn set(&self, value: u64) {
        // Relaxed: as in `get`.
        self.high.store((value >> 32) as u32, Ordering::Relaxed);
        self.low.store(value as u32, Ordering::Relaxed);
    }

    /// The count.
    #[inline]
    pub(crate) fn load(&self) -> u64 {
        crate::loom::critical_section(|| self.get())
    }

    /// Replaces the count with `value`.
    #[inline]
    pub(crate) fn store(&self, value: u64) {
        crate::loom::critical_section(|| self.set(value));
    }

    /// Raises the count to `value` if it is lower.
    #[inline]
    pub(crate) fn raise(&self, value: u64) {
        crate::loom::critical_section(|| {
            if value > self.get() {
                self.set(value);
            }
        });
    }
}

/// `Split::seq` modulo 4: no write in progress; both copies hold the
/// count.
const IDLE: usize = 0;
/// `Split::seq` modulo 4: a writer is writing copy 0; readers read copy 1.
const WRITING_FIRST: usize = 1;
/// `Split::seq` modulo 4: a writer is writing copy 1; readers read copy 0.
const WRITING_SECOND: usize = 2;

/// A tick count as two 32-bit halves, for targets without 64-bit atomics
/// and without the `critical-section` feature.
///
/// Two copies of `[high, low]` and a sequence word `seq`, which is also
/// the writers' lock. A write moves `seq` from a multiple of 4 (idle) to
/// `WRITING_FIRST` (it writes copy 0 while readers read copy 1), then to
/// `WRITING_SECOND` (it writes copy 1 while readers read copy 0), then to
/// the next multiple of 4. A reader reads `seq`, the copy no writer is
/// writing, and `seq` again, and retries only if a write moved on in
/// between: so a read never waits for a writer it interrupted (an
/// interrupt handler reading while the thread it interrupted writes), and
/// it retries only as often as writes make progress.
///
/// Writers do not wait either: a write that finds another in progress is
/// dropped. For [`store`](Self::store) that is the same as if it had come
/// just before the one in progress, which overwrites it (concurrent stores
/// have no order). A dropped [`raise`](Self::raise) loses its value: only
/// two contexts that share one set of run counters (`run_pending` callers)
/// and see a new longest wait within the same few instructions can do
/// that; a worker's counters have one writer.
///
/// Four words where a 32-bit count takes one: targets with the
/// `critical-section` feature (all those without compare-and-swap) use
/// [`Locked`] instead, which takes two.
///
/// `seq` wraps after `usize::MAX / 4` writes; a reader would have to stall
/// through that many writes, and read `seq` back at the same value, to
/// return a torn count.
#[derive(Debug)]
#[cfg_attr(
    any(
        all(target_has_atomic = "64", not(taskring_narrow_ticks)),
        feature = "critical-section"
    ),
    allow(dead_code) // Only the unit tests use it there.
)]
pub(crate) struct Split {
    seq: AtomicUsize,
    /// `[high half, low half]`, twice.
    copies: [[AtomicU32; 2]; 2],
}

#[cfg_attr(
    any(
        all(target_has_atomic = "64", not(taskring_narrow_ticks)),
        feature = "critical-section"
    ),
    allow(dead_code) // Only the unit tests use it there.
)]
impl Split {
    loom_const_fn! {
        pub(crate) fn new(value: u64) -> Self {
            let (high, low) = ((value >> 32) as u32, value as u32);
            Self {
                seq: AtomicUsize::new(0),
                copies: [
                    [AtomicU32::new(high), AtomicU32::new(low)],
                    [AtomicU32::new(high), AtomicU32::new(low)],
                ],
            }
        }
    }

    /// The count.
    #[inline]
    pub(crate) fn load(&self) -> u64 {
        loop {
            // Acquire: pairs with the `Release` stores of `seq` in `write`,
            // so the copy it says is complete is seen complete.
            let seq = self.seq.load(Ordering::Acquire);
            let copy = &self.copies[usize::from(seq % 4 == WRITING_FIRST)];
            // Relaxed: the fences around them order them (see below).
            let high = copy[0].load(Ordering::Relaxed);
            let low = copy[1].load(Ordering::Relaxed);
            // Acquire fence: pairs with the `Release` fences in `write`
            // that come before it writes a copy: if a half read above came
            // from a write that began after our first look at `seq`, that
            // write's move of `seq` is seen below, and we retry.
            fence(Ordering::Acquire);
            // Relaxed: ordered after the halves by the fence above.
            if self.seq.load(Ordering::Relaxed) == seq {
                return (u64::from(high) << 32) | u64::from(low);
            }
        }
    }

    /// Replaces the count with `value` (dropped if another write is in
    /// progress; see the type's docs).
    #[inline]
    pub(crate) fn store(&self, value: u64) {
        self.write(|_| Some(value));
    }

    /// Raises the count to `value` if it is lower (dropped if another
    /// write is in progress; see the type's docs).
    #[inline]
    pub(crate) fn raise(&self, value: u64) {
        if value > self.load() {
            self.write(|old| (value > old).then_some(value));
        }
    }

    /// Takes the writers' lock, replaces the count with `f(old)` unless it
    /// is `None`, and lets go. Does nothing if another write is in
    /// progress.
    fn write(&self, f: impl FnOnce(u64) -> Option<u64>) {
        // Relaxed: only a guess at an idle value; the CAS below decides.
        let seq = self.seq.load(Ordering::Relaxed);
        if seq % 4 != IDLE {
            return;
        }
        // Acquire: pairs with the `Release` store that ended the previous
        // write, so its copies are seen whole. Relaxed on failure: we do
        // nothing then.
        if self
            .seq
            .compare_exchange(
                seq,
                seq.wrapping_add(WRITING_FIRST),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return;
        }
        // Relaxed: we hold the lock; the previous writer's copies are
        // visible through the `Acquire` above.
        let old = (u64::from(self.copies[0][0].load(Ordering::Relaxed)) << 32)
            | u64::from(self.copies[0][1].load(Ordering::Relaxed));
        let Some(value) = f(old) else {
            // Release: pairs with the next writer's `Acquire` CAS and the
            // readers' `Acquire` loads; nothing changed.
            self.seq.store(seq, Ordering::Release);
            return;
        };
        let (high, low) = ((value >> 32) as u32, value as u32);
        // Release fence: pairs with the `Acquire` fence in `load`, so that
        // a reader that sees a half we write below also sees `seq` moved
        // on, and retries.
        fence(Ordering::Release);
        // Relaxed: ordered by the fences and the `seq` stores around them.
        self.copies[0][0].store(high, Ordering::Relaxed);
        self.copies[0][1].store(low, Ordering::Relaxed);
        // Release: pairs with the readers' `Acquire` loads of `seq`: one
        // that sees this value reads copy 0, which is complete.
        self.seq
            .store(seq.wrapping_add(WRITING_SECOND), Ordering::Release);
        // Release fence: as the one above, for copy 1.
        fence(Ordering::Release);
        // Relaxed: as above.
        self.copies[1][0].store(high, Ordering::Relaxed);
        self.copies[1][1].store(low, Ordering::Relaxed);
        // Release: pairs with the readers' `Acquire` loads of `seq` and the
        // next writer's `Acquire` CAS: both copies are complete.
        self.seq.store(seq.wrapping_add(4), Ordering::Release);
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::{Split, Ticks};

    const PAST_U32: u64 = (1 << 32) + 7;

    #[test]
    fn split_counts_past_u32() {
        let ticks = Split::new(0);
        ticks.store(PAST_U32);
        assert_eq!(ticks.load(), PAST_U32);
        ticks.store(u64::MAX);
        assert_eq!(ticks.load(), u64::MAX);
        assert_eq!(Split::new(PAST_U32).load(), PAST_U32);
    }

    #[test]
    fn split_raises_across_the_halves() {
        let ticks = Split::new(u64::from(u32::MAX));
        // A larger high half with a smaller low half is still larger.
        ticks.raise(1 << 32);
        assert_eq!(ticks.load(), 1 << 32);
        // A smaller value leaves it.
        ticks.raise(u64::from(u32::MAX));
        assert_eq!(ticks.load(), 1 << 32);
        ticks.raise(PAST_U32);
        assert_eq!(ticks.load(), PAST_U32);
    }

    #[cfg(feature = "critical-section")]
    #[test]
    fn locked_counts_past_u32() {
        let ticks = super::Locked::new(u64::from(u32::MAX));
        assert_eq!(ticks.load(), u64::from(u32::MAX));
        ticks.raise(1 << 32);
        assert_eq!(ticks.load(), 1 << 32);
        ticks.raise(u64::from(u32::MAX));
        assert_eq!(ticks.load(), 1 << 32);
        ticks.store(PAST_U32);
        assert_eq!(ticks.load(), PAST_U32);
    }

    #[test]
    fn selected_counts_past_u32() {
        let ticks = Ticks::new(3);
        ticks.raise(PAST_U32);
        ticks.raise(5);
        assert_eq!(ticks.load(), PAST_U32);
        ticks.store(PAST_U32 + 1);
        assert_eq!(ticks.load(), PAST_U32 + 1);
    }

    /// A reader racing a writer never sees the halves of two values: the
    /// writer stores values whose halves are equal.
    #[test]
    fn split_reads_are_never_torn() {
        const WRITES: u32 = 20_000;
        let ticks = Split::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 1..=WRITES {
                    ticks.store((u64::from(i) << 32) | u64::from(i));
                }
            });
            let mut last = 0;
            loop {
                let value = ticks.load();
                assert_eq!(value >> 32, value & u64::from(u32::MAX), "a torn read");
                assert!(value >= last, "a read went back");
                last = value;
                if value >> 32 == u64::from(WRITES) {
                    break;
                }
            }
        });
    }
}
