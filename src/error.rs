//! Errors returned by the ring.

use core::fmt;

/// Why [`Ring::try_push`](crate::Ring::try_push) gave the value back.
///
/// The value inside is the exact one that was passed in: it was neither
/// cloned nor dropped.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushError<T> {
    /// The ring held `N` items when the push looked. Pushes in flight count
    /// as held: they have claimed their slot and will complete.
    Full(T),
    /// Another context (a thread, or an interrupt handler that this call
    /// preempted or that preempted it) is in the middle of an operation on
    /// the slot this push needs, or the push lost the claim race more often
    /// than its retry budget allows. Retrying later can succeed; the ring is
    /// not known to be full.
    Busy(T),
}

impl<T> PushError<T> {
    /// Returns the value that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::{PushError, Ring};
    ///
    /// let ring: Ring<&str, 1> = Ring::new();
    /// ring.try_push("a").unwrap();
    /// let err = ring.try_push("b").unwrap_err();
    /// assert_eq!(err, PushError::Full("b"));
    /// assert_eq!(err.into_inner(), "b");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(value) | Self::Busy(value) => value,
        }
    }

    /// True for [`PushError::Full`].
    pub const fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// True for [`PushError::Busy`].
    pub const fn is_busy(&self) -> bool {
        matches!(self, Self::Busy(_))
    }
}

// Not derived: the value need not be `Debug`, so `unwrap()` works for any
// item type.
impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Busy(_) => f.write_str("Busy(..)"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("ring is full"),
            Self::Busy(_) => f.write_str("ring slot is busy: another context is mid-operation"),
        }
    }
}

impl<T> core::error::Error for PushError<T> {}

/// Why [`Ring::try_pop`](crate::Ring::try_pop) returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PopError {
    /// The ring held no items when the pop looked. Pops in flight count as
    /// done: they have claimed their item.
    Empty,
    /// Another context is in the middle of an operation on the slot this pop
    /// needs (typically a push that has claimed it and not yet published its
    /// value), or the pop lost the claim race more often than its retry
    /// budget allows. Retrying later can succeed.
    Busy,
}

impl PopError {
    /// True for [`PopError::Empty`].
    pub const fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// True for [`PopError::Busy`].
    pub const fn is_busy(&self) -> bool {
        matches!(self, Self::Busy)
    }
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("ring is empty"),
            Self::Busy => f.write_str("ring slot is busy: another context is mid-operation"),
        }
    }
}

impl core::error::Error for PopError {}
