//! The [`Env`] a pool holds: how it tells time, wakes an idle worker and
//! reports an event. One trait, so the no_std pool and the thread pool share
//! one wake-up protocol and one event path.

use super::event::PoolEvent;

/// What a [`Pool`](crate::Pool) needs from the world around it.
///
/// The pool calls these from whichever context submits or runs jobs
/// (possibly an interrupt handler), never while it holds a lock of its own.
/// Keep them short; they must not block on the pool (for example call
/// `stop_wait` or wait for room in the queue).
///
/// * A zero-sized [`Stamp`](Env::Stamp) (`()`) means "no clock": the pool
///   skips every clock read and the lag metrics stay 0.
/// * [`wake`](Env::wake) is called once for each idle worker a submit
///   claims (see the [pool docs](crate::pool#waking-idle-workers)).
///
/// A firmware pool with a hardware timer and a WFE idle loop:
///
/// ```
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use taskring::{Config, Env, Pool, PoolEvent};
///
/// static TIMER: AtomicU32 = AtomicU32::new(0); // A free-running counter.
///
/// struct Board;
///
/// impl Env for Board {
///     type Stamp = u32;
///     fn now(&self) -> u32 {
///         TIMER.load(Ordering::Relaxed)
///     }
///     fn ticks(&self, stamp: u32) -> u64 {
///         u64::from(stamp)
///     }
///     fn wake(&self) {
///         // cortex_m::asm::sev();
///     }
///     fn on_event(&self, event: PoolEvent) {
///         // defmt::warn!("{}", event);
///         let _ = event;
///     }
/// }
///
/// static POOL: Pool<fn(), 8, 0, Board> = Pool::with_env(Config::new(), Board);
/// POOL.try_submit(|| {}).unwrap();
/// TIMER.store(30, Ordering::Relaxed);
/// assert_eq!(POOL.stats().lag, 30);
/// POOL.run_pending(1);
/// assert_eq!(POOL.stats().max_wait, 30);
/// ```
pub trait Env: Sync {
    /// What each queued job carries: a tick count, or `()` for no clock.
    type Stamp: Copy + Send;

    /// The current time. With a zero-sized `Stamp` the pool ignores it.
    fn now(&self) -> Self::Stamp;

    /// A stamp as a monotonic tick count, for differences.
    fn ticks(&self, stamp: Self::Stamp) -> u64;

    /// True if the pool should stamp jobs and read the clock. Defaults to
    /// "the stamp is not zero-sized"; an environment whose clock can be
    /// switched off at run time returns false to skip every clock read
    /// and the bookkeeping that goes with it.
    #[inline(always)]
    fn has_clock(&self) -> bool {
        core::mem::size_of::<Self::Stamp>() != 0
    }

    /// Wakes one idle worker. Called after a submit claimed one worker
    /// that announced itself idle; the worker's [`Idle`](crate::Idle)
    /// strategy must return after this call, even if the call comes before
    /// it starts waiting (like a sticky token, SEV before WFE, or a
    /// pending interrupt before WFI). The default does nothing, which is
    /// right for idle strategies that never block ([`Spin`](crate::Spin)).
    fn wake(&self) {}

    /// Wakes every idle worker, after a state change (resume, stop).
    /// Defaults to one [`wake`](Env::wake), enough for a broadcast such as
    /// SEV.
    fn wake_all(&self) {
        self.wake();
    }

    /// Reports an event. The default ignores it.
    fn on_event(&self, event: PoolEvent) {
        let _ = event;
    }
}

/// The default [`Env`]: no clock, no wake-up, events ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bare;

impl Env for Bare {
    type Stamp = ();
    #[inline(always)]
    fn now(&self) {}
    #[inline(always)]
    fn ticks(&self, (): ()) -> u64 {
        0
    }
}

/// An [`Env`] of plain function pointers, built in const context: no
/// clock, an optional event handler and an optional wake-up.
///
/// ```
/// use taskring::{Config, Hooks, Pool, PoolEvent};
///
/// fn alert(event: PoolEvent) {
///     let _ = event; // Log it, light an LED...
/// }
/// fn sev() {
///     // cortex_m::asm::sev();
/// }
///
/// static POOL: Pool<fn(), 16, 1, Hooks> = Pool::with_env(
///     Config::new().watermarks(12, 4),
///     Hooks::new().on_event(alert).wake(sev),
/// );
/// # let _ = &POOL;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Hooks {
    on_event: Option<fn(PoolEvent)>,
    wake: Option<fn()>,
}

impl Hooks {
    /// No hooks.
    pub const fn new() -> Self {
        Self {
            on_event: None,
            wake: None,
        }
    }

    /// Calls `f` with every [`PoolEvent`].
    pub const fn on_event(mut self, f: fn(PoolEvent)) -> Self {
        self.on_event = Some(f);
        self
    }

    /// Calls `f` to wake idle workers (once per claimed worker, and once
    /// for [`Env::wake_all`]).
    pub const fn wake(mut self, f: fn()) -> Self {
        self.wake = Some(f);
        self
    }
}

impl Env for Hooks {
    type Stamp = ();
    #[inline(always)]
    fn now(&self) {}
    #[inline(always)]
    fn ticks(&self, (): ()) -> u64 {
        0
    }
    fn wake(&self) {
        if let Some(wake) = self.wake {
            wake();
        }
    }
    fn on_event(&self, event: PoolEvent) {
        if let Some(on_event) = self.on_event {
            on_event(event);
        }
    }
}
