//! Building a [`ThreadPool`]: the [`Builder`], its settings, and why a
//! build fails ([`BuildError`]).

use alloc::{boxed::Box, string::String, vec::Vec};
use core::{any::Any, fmt, time::Duration};
use std::io;

use super::{
    shared::{Shared, ThreadEnv},
    ThreadPool,
};
use crate::{
    loom::sync::{Arc, Builder as ThreadBuilder, Mutex},
    Config, ConfigError, Job, PoolEvent,
};

/// A panic handler: receives each panicking job's payload.
pub(crate) type PanicHandler = Box<dyn Fn(Box<dyn Any + Send>) + Send + Sync>;
/// An event handler: receives each [`PoolEvent`].
pub(crate) type EventHandler = Box<dyn Fn(PoolEvent) + Send + Sync>;
/// A thread start or stop hook: receives the worker index.
pub(crate) type ThreadHook = Box<dyn Fn(usize) + Send + Sync>;

/// What a job's panic does to the pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PanicPolicy {
    /// Catch the panic, count it in [`Stats::panicked`](crate::Stats),
    /// hand the payload to the panic handler (if any) and keep the worker
    /// running. The default.
    #[default]
    Isolate,
    /// Hand the payload to the panic handler (if any), then abort the
    /// process, as `rayon::spawn` does without a handler.
    Abort,
}

/// Settings fixed when the pool is built.
pub(crate) struct Settings {
    pub(crate) policy: PanicPolicy,
    pub(crate) on_panic: Option<PanicHandler>,
    pub(crate) on_thread_start: Option<ThreadHook>,
    pub(crate) on_thread_stop: Option<ThreadHook>,
    pub(crate) name_prefix: String,
}

/// Why a [`ThreadPool`] could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// A pool needs at least one worker thread.
    NoWorkers,
    /// More workers than [`ThreadPool::MAX_WORKERS`].
    TooManyWorkers {
        /// The count asked for.
        requested: usize,
        /// The largest count accepted.
        max: usize,
    },
    /// The settings were rejected.
    Config(ConfigError),
    /// A thread could not be started; those already started were stopped
    /// and joined.
    Spawn(io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoWorkers => f.write_str("a thread pool needs at least one worker"),
            Self::TooManyWorkers { requested, max } => {
                write!(
                    f,
                    "{requested} workers asked for; at most {max} are supported"
                )
            }
            Self::Config(error) => write!(f, "invalid pool settings: {error}"),
            Self::Spawn(error) => write!(f, "could not start a worker thread: {error}"),
        }
    }
}

impl core::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Config(error) => Some(error),
            Self::Spawn(error) => Some(error),
            Self::NoWorkers | Self::TooManyWorkers { .. } => None,
        }
    }
}

/// Settings for a [`ThreadPool`], from [`ThreadPool::builder`].
///
/// # Examples
///
/// ```
/// use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
/// use taskring::{thread_pool::PanicPolicy, ThreadPool};
///
/// let panics = Arc::new(AtomicUsize::new(0));
/// let seen = panics.clone();
/// let pool: ThreadPool = ThreadPool::builder()
///     .workers(3)
///     .name_prefix("session-")
///     .stack_size(256 * 1024)
///     .panic_policy(PanicPolicy::Isolate)
///     .on_panic(move |_payload| {
///         seen.fetch_add(1, Ordering::Relaxed);
///     })
///     .watermarks(768, 256)
///     .on_event(|event| eprintln!("{event:?}"))
///     .lag_metrics(true)
///     .build()?;
/// # std::panic::set_hook(Box::new(|_| {}));
/// pool.execute(|| panic!("boom"))?;
/// pool.stop_wait()?;
/// assert_eq!(panics.load(Ordering::Relaxed), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<J, const N: usize> {
    settings: Settings,
    workers: Option<usize>,
    stack_size: Option<usize>,
    watermarks: Option<(usize, usize)>,
    on_event: Option<EventHandler>,
    lag_metrics: bool,
    lag_alert: Option<(u64, u64)>,
    _jobs: core::marker::PhantomData<fn(J)>,
}

impl<J: Job + 'static, const N: usize> Builder<J, N> {
    pub(super) fn new() -> Self {
        Self {
            settings: Settings {
                policy: PanicPolicy::Isolate,
                on_panic: None,
                on_thread_start: None,
                on_thread_stop: None,
                name_prefix: String::from("taskring-worker-"),
            },
            workers: None,
            stack_size: None,
            watermarks: None,
            on_event: None,
            lag_metrics: false,
            lag_alert: None,
            _jobs: core::marker::PhantomData,
        }
    }

    /// The number of worker threads: 1 to [`ThreadPool::MAX_WORKERS`]
    /// (checked by [`build`](Self::build)). Default:
    /// [`std::thread::available_parallelism`], or 1 if unknown.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Names the threads `{prefix}{i}` (default `taskring-worker-`).
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.name_prefix = prefix.into();
        self
    }

    /// The stack size of each worker thread, in bytes (default: std's).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// What a job's panic does; see [`PanicPolicy`].
    pub fn panic_policy(mut self, policy: PanicPolicy) -> Self {
        self.settings.policy = policy;
        self
    }

    /// Calls `handler` with the payload of each panicking job, on the
    /// worker thread. A panic inside `handler` is caught and ignored.
    pub fn on_panic(
        mut self,
        handler: impl Fn(Box<dyn Any + Send>) + Send + Sync + 'static,
    ) -> Self {
        self.settings.on_panic = Some(Box::new(handler));
        self
    }

    /// Overload watermarks on queue depth: reaching `high` raises
    /// [`PoolEvent::Overloaded`], falling to `low` or below then raises
    /// [`PoolEvent::Recovered`]. [`build`](Self::build) rejects
    /// `low >= high`.
    pub fn watermarks(mut self, high: usize, low: usize) -> Self {
        self.watermarks = Some((high, low));
        self
    }

    /// Calls `handler` with every [`PoolEvent`], on the submitter or
    /// worker that raised it, never under a lock of the pool (see the
    /// [module docs](super)). A panic inside `handler` is caught and
    /// ignored.
    pub fn on_event(mut self, handler: impl Fn(PoolEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Box::new(handler));
        self
    }

    /// Raises [`PoolEvent::Lagging`] when the oldest queued job has waited
    /// `high`, and [`PoolEvent::LagRecovered`] once the lag is back at
    /// `low` or below (see [`Config::lag_alert`] for when the pool looks).
    /// Turns on [`lag_metrics`](Self::lag_metrics). [`build`](Self::build)
    /// rejects `low >= high`.
    pub fn lag_alert(mut self, high: Duration, low: Duration) -> Self {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.lag_alert = Some((nanos(high), nanos(low)));
        self.lag_metrics = true;
        self
    }

    /// Stamps every job with the time it was queued, which turns on
    /// [`Stats::max_wait`](crate::Stats::max_wait) and [`Stats::lag`](crate::Stats::lag) (in nanoseconds). Off by
    /// default: it costs a clock read per submit and per job.
    pub fn lag_metrics(mut self, on: bool) -> Self {
        self.lag_metrics = on;
        self
    }

    /// Calls `hook(i)` on worker thread `i` when it starts.
    pub fn on_thread_start(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.settings.on_thread_start = Some(Box::new(hook));
        self
    }

    /// Calls `hook(i)` on worker thread `i` just before it exits.
    pub fn on_thread_stop(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.settings.on_thread_stop = Some(Box::new(hook));
        self
    }

    /// Starts the pool's threads.
    ///
    /// # Errors
    ///
    /// See [`BuildError`].
    pub fn build(self) -> Result<ThreadPool<J, N>, BuildError> {
        let workers = match self.workers {
            Some(workers) => workers,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        if workers == 0 {
            return Err(BuildError::NoWorkers);
        }
        let max = ThreadPool::<J, N>::MAX_WORKERS;
        if workers > max {
            return Err(BuildError::TooManyWorkers {
                requested: workers,
                max,
            });
        }
        let mut config = Config::new();
        if let Some((high, low)) = self.watermarks {
            config = config
                .try_watermarks(high, low)
                .map_err(BuildError::Config)?;
        }
        if let Some((high, low)) = self.lag_alert {
            config = config
                .try_lag_alert(high, low)
                .map_err(BuildError::Config)?;
        }
        let prefix = self.settings.name_prefix.clone();
        let env = ThreadEnv::new(workers, self.lag_metrics, self.on_event);
        let shared = Arc::new(Shared::new(config, env, self.settings));
        let pool = ThreadPool {
            shared,
            handles: Mutex::new(Vec::with_capacity(workers)),
        };
        for index in 0..workers {
            let mut builder = ThreadBuilder::new().name(alloc::format!("{prefix}{index}"));
            if let Some(bytes) = self.stack_size {
                builder = builder.stack_size(bytes);
            }
            let shared = pool.shared.clone();
            match builder.spawn(move || shared.run_worker(index)) {
                Ok(handle) => pool
                    .handles
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(handle),
                // Dropping `pool` stops and joins what was started.
                Err(error) => return Err(BuildError::Spawn(error)),
            }
        }
        Ok(pool)
    }
}

impl<J, const N: usize> fmt::Debug for Builder<J, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("name_prefix", &self.settings.name_prefix)
            .field("stack_size", &self.stack_size)
            .field("policy", &self.settings.policy)
            .field("watermarks", &self.watermarks)
            .field("lag_metrics", &self.lag_metrics)
            .field("lag_alert", &self.lag_alert)
            .finish_non_exhaustive()
    }
}
