//! What a pool reports through its environment.

#[cfg(doc)]
use crate::Config;

/// Something a pool reports through [`Env::on_event`](crate::Env::on_event).
///
/// Raised in one place each, from the context that caused it (a submitter
/// for `Overloaded`, whoever takes a job for `Recovered`; possibly an
/// interrupt handler), never while the pool holds a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PoolEvent {
    /// A submit took the queue depth to the high watermark or above.
    Overloaded {
        /// The depth that submit reached: computed from the position it
        /// claimed, never more than the queue really held plus the
        /// submits in flight.
        depth: usize,
    },
    /// After an overload, a job left the queue and the depth fell to the
    /// low watermark or below.
    Recovered {
        /// The queue depth just after that job left.
        depth: usize,
    },
    /// The age of the oldest queued job reached the high lag mark (see
    /// [`Config::lag_alert`]).
    Lagging {
        /// The lag seen, in clock ticks.
        lag: u64,
    },
    /// After `Lagging`, the lag fell to the low lag mark or below.
    LagRecovered {
        /// The lag seen, in clock ticks.
        lag: u64,
    },
}
