//! Beyond one machine: a backlog of sessions in a Redis stream, consumed
//! through a consumer group by several OS processes, each with one
//! taskring [`ThreadPool`].
//!
//! The broker is the shared queue; each process's pool is only its local,
//! bounded buffer:
//!
//! - a consumer reads a batch (`XREADGROUP`) and submits each session with
//!   the blocking [`ThreadPool::submit`]: while the pool's queue is full
//!   the reader waits, so a process never holds more than its queue, its
//!   workers and one batch (the bounded queue is the flow control);
//! - the job acknowledges (`XACK`) only after it ran: an entry that was
//!   read but not run stays pending in the group;
//! - on SIGTERM (or SIGINT) the process calls [`ThreadPool::stop`] and
//!   leaves the jobs it hands back unacknowledged, together with the rest
//!   of the batch it had not submitted; running jobs finish and
//!   acknowledge. A consumer that starts under the same name reads its own
//!   pending entries first, so they are redelivered;
//! - a process killed with SIGKILL loses nothing either: its entries stay
//!   pending, and every consumer claims entries idle for `--claim-idle-ms`
//!   (`XAUTOCLAIM`) and runs them. A job that had run but not yet
//!   acknowledged when the process died runs again: delivery is at least
//!   once, and only such jobs run twice;
//! - each process serves its pool's counters as Prometheus text on a
//!   loopback port and prints lag and overload alerts as they fire
//!   (lines starting `lag-alert:` and `overload:`).
//!
//! ```text
//! taskring-broker seed    --sessions N
//! taskring-broker consume --name C [--workers W] [--batch B] [--work-us U] [--wait-us U]
//!                         [--claim-idle-ms M] [--lag-high-ms H] [--lag-low-ms L]
//!                         [--metrics-port P]
//! taskring-broker status  [--name C]
//! taskring-broker wait    --sessions N --timeout-s T [--since-ms EPOCH_MS]
//! taskring-broker check   --sessions N [--killed C1,C2] [--max-extra-runs R]
//! ```
//!
//! Every subcommand takes `--redis URL` (default `redis://127.0.0.1:6379/`),
//! `--stream KEY` (default `sessions`) and `--group NAME` (default `pool`).
//! `scripts/broker.sh` starts a loopback `redis-server` and runs the whole
//! scenario: three consumers, one stopped with SIGTERM and one killed with
//! SIGKILL midway, both restarted, and the final check.

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet},
    env,
    hint::black_box,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::ExitCode,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use redis::{
    streams::{StreamAutoClaimReply, StreamId, StreamPendingReply, StreamReadReply},
    Client, Connection, RedisResult,
};
use signal_hook::{
    consts::{SIGINT, SIGTERM},
    iterator::Signals,
};
use taskring::{Job, PoolEvent, ThreadPool};

/// Each process's local queue: at most this many sessions wait in it.
const QUEUE: usize = 64;

/// One pool per process, over jobs of one type: the handed-back jobs can
/// be looked at (their entry ids) before they are left unacknowledged.
type Pool = ThreadPool<Work, QUEUE>;

type Error = Box<dyn std::error::Error>;

// === Options ===

/// `--flag value` pairs after the subcommand.
struct Args {
    values: HashMap<String, String>,
}

impl Args {
    fn parse(words: &[String]) -> Result<Self, Error> {
        let mut values = HashMap::new();
        let mut words = words.iter();
        while let Some(flag) = words.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("expected a --flag, got {flag}"))?;
            let value = words
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?;
            values.insert(name.to_owned(), value.clone());
        }
        Ok(Self { values })
    }

    fn text(&self, name: &str, default: &str) -> String {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    fn number(&self, name: &str, default: u64) -> Result<u64, Error> {
        match self.values.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| format!("--{name}: not a number: {text}").into()),
        }
    }

    fn required(&self, name: &str) -> Result<u64, Error> {
        if !self.values.contains_key(name) {
            return Err(format!("--{name} is required").into());
        }
        self.number(name, 0)
    }
}

/// Where the backlog lives.
struct Keys {
    url: String,
    stream: String,
    group: String,
    /// Hash: session id -> how many times it ran (the sessions' result).
    done: String,
    /// List of `"<session> <consumer>"`, one per run, for the check.
    runs: String,
}

impl Keys {
    fn from(args: &Args) -> Self {
        let stream = args.text("stream", "sessions");
        Self {
            url: args.text("redis", "redis://127.0.0.1:6379/"),
            group: args.text("group", "pool"),
            done: format!("{stream}:done"),
            runs: format!("{stream}:runs"),
            stream,
        }
    }

    fn connect(&self) -> RedisResult<Connection> {
        Client::open(self.url.as_str())?.get_connection_with_timeout(Duration::from_secs(5))
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The milliseconds part of a stream entry id (`<ms>-<seq>`): when the
/// entry was added.
fn entry_ms(id: &str) -> u64 {
    id.split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

// === seed ===

/// Empties the stream and the results, creates the group, and adds
/// `--sessions` entries `sid=<i>`.
fn seed(args: &Args) -> Result<(), Error> {
    let keys = Keys::from(args);
    let sessions = args.required("sessions")?;
    let mut con = keys.connect()?;
    redis::cmd("DEL")
        .arg(&keys.stream)
        .arg(&keys.done)
        .arg(&keys.runs)
        .exec(&mut con)?;
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&keys.stream)
        .arg(&keys.group)
        .arg("0")
        .arg("MKSTREAM")
        .exec(&mut con)?;
    let start = Instant::now();
    let mut sid = 0;
    while sid < sessions {
        let mut pipe = redis::pipe();
        for id in sid..(sid + 1000).min(sessions) {
            pipe.cmd("XADD")
                .arg(&keys.stream)
                .arg("*")
                .arg("sid")
                .arg(id)
                .ignore();
        }
        pipe.exec(&mut con)?;
        sid = (sid + 1000).min(sessions);
    }
    println!(
        "seed: stream={} group={} sessions={sessions} time_ms={}",
        keys.stream,
        keys.group,
        start.elapsed().as_millis()
    );
    Ok(())
}

// === consume ===

/// What every job and the metrics endpoint of one process share.
///
/// The counters are for reporting only: every access is `Relaxed` and
/// pairs with no other operation; the final values are read after
/// `stop_wait` joined the workers, which orders their updates before it.
struct Consumer {
    keys: Keys,
    client: Client,
    name: String,
    work: Duration,
    wait: Duration,
    acked: AtomicU64,
    ack_errors: AtomicU64,
    reclaimed: AtomicU64,
    redelivered: AtomicU64,
    left_unacked: AtomicU64,
    /// Oldest session run, in milliseconds since it entered the stream.
    max_age_ms: AtomicU64,
}

/// What the pool runs.
enum Work {
    /// A stream entry to run, then acknowledge.
    Session(Session),
    /// Nothing: submitted once when the stream has no new entries while
    /// the pool still reports `lagging`. The pool looks at its lag only
    /// when a job is submitted or leaves the queue, so after a backlog
    /// drains the alert stays raised until some job passes through; this
    /// one does, and its wait of about zero raises `LagRecovered`.
    Probe,
}

/// One session.
struct Session {
    entry: String,
    sid: u64,
    consumer: Arc<Consumer>,
}

thread_local! {
    /// Each worker thread's own connection, opened on first use.
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

impl Job for Work {
    fn run(self) {
        match self {
            Work::Session(session) => session.run(),
            Work::Probe => {}
        }
    }
}

impl Session {
    fn run(self) {
        let consumer = &*self.consumer;
        process_session(self.sid, consumer.work, consumer.wait);
        let age = now_ms().saturating_sub(entry_ms(&self.entry));
        consumer.max_age_ms.fetch_max(age, Ordering::Relaxed);
        let result = CONNECTION.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(consumer.client.get_connection()?);
            }
            let con = slot.as_mut().expect("connected above");
            let result = record_and_ack(consumer, &self, con);
            if result.is_err() {
                *slot = None; // Reconnect for the next job.
            }
            result
        });
        match result {
            Ok(()) => {
                consumer.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                // Left pending: another consumer claims and reruns it.
                consumer.ack_errors.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "error: consumer={} entry={} not acknowledged: {error}",
                    consumer.name, self.entry
                );
            }
        }
    }
}

/// The session's result is written, and only then is its entry
/// acknowledged. These are two round trips, as with any store outside
/// the broker: a process that dies between them has run the session
/// without acknowledging it, and the session runs again elsewhere. That is
/// the at-least-once contract; a result keyed by session makes the second
/// run harmless.
fn record_and_ack(consumer: &Consumer, session: &Session, con: &mut Connection) -> RedisResult<()> {
    let keys = &consumer.keys;
    redis::pipe()
        .atomic()
        .cmd("HINCRBY")
        .arg(&keys.done)
        .arg(session.sid)
        .arg(1)
        .ignore()
        .cmd("RPUSH")
        .arg(&keys.runs)
        .arg(format!("{} {}", session.sid, consumer.name))
        .ignore()
        .exec(con)?;
    redis::cmd("XACK")
        .arg(&keys.stream)
        .arg(&keys.group)
        .arg(&session.entry)
        .exec(con)
}

/// One session's work: `work` of CPU, then a blocking wait of `wait` (a
/// call to another service).
fn process_session(sid: u64, work: Duration, wait: Duration) {
    let start = Instant::now();
    let mut hash = sid ^ 0x9E37_79B9_7F4A_7C15;
    while start.elapsed() < work {
        for _ in 0..64 {
            hash = black_box(hash.rotate_left(7).wrapping_mul(0x100_0000_01B3) ^ 0x5A);
        }
    }
    black_box(hash);
    thread::sleep(wait);
}

fn consume(args: &Args) -> Result<(), Error> {
    let keys = Keys::from(args);
    let name = args.text("name", "");
    if name.is_empty() {
        return Err("--name is required".into());
    }
    let workers = args.number("workers", 4)? as usize;
    let batch = args.number("batch", 16)? as usize;
    let claim_idle_ms = args.number("claim-idle-ms", 2000)?;
    let lag_high = Duration::from_millis(args.number("lag-high-ms", 50)?);
    let lag_low = Duration::from_millis(args.number("lag-low-ms", 10)?);
    let client = Client::open(keys.url.as_str())?;
    let consumer = Arc::new(Consumer {
        client,
        name: name.clone(),
        work: Duration::from_micros(args.number("work-us", 200)?),
        wait: Duration::from_micros(args.number("wait-us", 5000)?),
        acked: AtomicU64::new(0),
        ack_errors: AtomicU64::new(0),
        reclaimed: AtomicU64::new(0),
        redelivered: AtomicU64::new(0),
        left_unacked: AtomicU64::new(0),
        max_age_ms: AtomicU64::new(0),
        keys,
    });

    let label = name.clone();
    let pool: Arc<Pool> = Arc::new(
        ThreadPool::builder()
            .workers(workers)
            .name_prefix(format!("{name}-"))
            .watermarks(QUEUE * 3 / 4, QUEUE / 4)
            .lag_alert(lag_high, lag_low)
            .on_event(move |event| print_event(&label, event, lag_high, lag_low))
            .build()?,
    );

    let listener = TcpListener::bind(("127.0.0.1", args.number("metrics-port", 0)? as u16))?;
    let port = listener.local_addr()?.port();
    {
        let (pool, consumer) = (pool.clone(), consumer.clone());
        thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve_metrics(&listener, &pool, &consumer))?;
    }

    // SIGTERM or SIGINT: stop, and leave what comes back unacknowledged.
    // `signal` is only reported (Relaxed, pairs with nothing): the main
    // loop learns of the stop from the pool itself.
    let signal = Arc::new(AtomicBool::new(false));
    {
        let (pool, consumer, signal) = (pool.clone(), consumer.clone(), signal.clone());
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(number) = signals.forever().next() {
                    signal.store(true, Ordering::Relaxed);
                    let back: Vec<Session> = pool
                        .stop()
                        .into_iter()
                        .filter_map(|work| match work {
                            Work::Session(session) => Some(session),
                            Work::Probe => None,
                        })
                        .collect();
                    let first = back.first().map_or("-", |s| s.entry.as_str());
                    println!(
                        "stop: consumer={} signal={} handed_back={} first_entry={first} (left unacknowledged: redelivered)",
                        consumer.name,
                        if number == SIGTERM { "SIGTERM" } else { "SIGINT" },
                        back.len(),
                    );
                    consumer
                        .left_unacked
                        .fetch_add(back.len() as u64, Ordering::Relaxed);
                    // Dropped without running and without an ack.
                    drop(back);
                }
            })?;
    }

    println!(
        "start: consumer={name} pid={} workers={workers} queue={QUEUE} batch={batch} claim_idle_ms={claim_idle_ms} lag_alert_ms={}/{} metrics=http://127.0.0.1:{port}/metrics",
        std::process::id(),
        lag_high.as_millis(),
        lag_low.as_millis(),
    );

    let result = read_loop(&pool, &consumer, batch, claim_idle_ms);
    if result.is_err() {
        // Leave nothing queued behind an error: hand it back unacknowledged.
        let back = pool.stop();
        let sessions = back
            .iter()
            .filter(|work| matches!(work, Work::Session(_)))
            .count();
        consumer
            .left_unacked
            .fetch_add(sessions as u64, Ordering::Relaxed);
    }
    // Running jobs finish (and acknowledge); then the threads are joined.
    pool.stop_wait()?;
    let stats = pool.stats();
    println!(
        "exit: consumer={name} signal={} submitted={} completed={} acked={} ack_errors={} redelivered={} reclaimed={} handed_back={} left_unacked={} high_water={} max_wait_ms={:.1} lag_events={} overload_events={} max_age_ms={}",
        signal.load(Ordering::Relaxed),
        stats.submitted,
        stats.completed,
        consumer.acked.load(Ordering::Relaxed),
        consumer.ack_errors.load(Ordering::Relaxed),
        consumer.redelivered.load(Ordering::Relaxed),
        consumer.reclaimed.load(Ordering::Relaxed),
        stats.handed_back,
        consumer.left_unacked.load(Ordering::Relaxed),
        stats.high_water,
        stats.max_wait_duration().as_secs_f64() * 1e3,
        stats.lag_events,
        stats.overload_events,
        consumer.max_age_ms.load(Ordering::Relaxed),
    );
    result
}

/// One line per pool event, as it fires.
fn print_event(name: &str, event: PoolEvent, high: Duration, low: Duration) {
    let ms = |nanos: u64| Duration::from_nanos(nanos).as_secs_f64() * 1e3;
    match event {
        PoolEvent::Lagging { lag } => println!(
            "lag-alert: consumer={name} state=lagging lag_ms={:.1} high_ms={}",
            ms(lag),
            high.as_millis()
        ),
        PoolEvent::LagRecovered { lag } => println!(
            "lag-alert: consumer={name} state=recovered lag_ms={:.1} low_ms={}",
            ms(lag),
            low.as_millis()
        ),
        PoolEvent::Overloaded { depth } => {
            println!("overload: consumer={name} state=overloaded depth={depth} queue={QUEUE}")
        }
        PoolEvent::Recovered { depth } => {
            println!("overload: consumer={name} state=recovered depth={depth} queue={QUEUE}")
        }
        _ => {}
    }
}

/// Reads batches and submits them until the pool is stopped: first this
/// consumer's own pending entries (a restart under the same name), then
/// new ones; every `claim_idle_ms / 2` it claims entries other consumers
/// left pending for `claim_idle_ms`.
fn read_loop(
    pool: &Pool,
    consumer: &Arc<Consumer>,
    batch: usize,
    claim_idle_ms: u64,
) -> Result<(), Error> {
    let keys = &consumer.keys;
    let mut con = keys.connect()?;
    // Where to read this consumer's own history from; None once read.
    let mut history = Some(String::from("0"));
    let mut claim_cursor = String::from("0-0");
    let mut last_claim = Instant::now();
    let claim_every = Duration::from_millis((claim_idle_ms / 2).max(50));
    while !pool.is_stopped() {
        // A scan of the pending entries that stopped at COUNT goes on at
        // once; a finished one starts again after `claim_every`. Not while
        // the history is read: claimed entries join this consumer's own
        // pending list, and the history would hand them out again.
        let claim_due = claim_cursor != "0-0" || last_claim.elapsed() >= claim_every;
        if history.is_none() && claim_due {
            last_claim = Instant::now();
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(&keys.stream)
                .arg(&keys.group)
                .arg(&consumer.name)
                .arg(claim_idle_ms)
                .arg(&claim_cursor)
                .arg("COUNT")
                .arg(batch)
                .query(&mut con)?;
            claim_cursor = reply.next_stream_id;
            if !reply.claimed.is_empty() {
                consumer
                    .reclaimed
                    .fetch_add(reply.claimed.len() as u64, Ordering::Relaxed);
                println!(
                    "reclaim: consumer={} claimed={} idle_ms>={claim_idle_ms} first_entry={}",
                    consumer.name,
                    reply.claimed.len(),
                    reply.claimed[0].id
                );
                submit_all(pool, consumer, reply.claimed);
            }
        }
        if pool.is_stopped() {
            break;
        }
        let from = history.as_deref().unwrap_or(">");
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&keys.group)
            .arg(&consumer.name)
            .arg("COUNT")
            .arg(batch)
            .arg("BLOCK")
            .arg(200)
            .arg("STREAMS")
            .arg(&keys.stream)
            .arg(from)
            .query(&mut con)?;
        let entries: Vec<StreamId> = reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default();
        if entries.is_empty() && pool.queued() == 0 && pool.stats().lagging {
            // Nothing new: let the pool see that its queue has caught up.
            let _ = pool.try_submit(Work::Probe);
        }
        if let Some(after) = &mut history {
            match entries.last() {
                Some(last) => {
                    *after = last.id.clone();
                    consumer
                        .redelivered
                        .fetch_add(entries.len() as u64, Ordering::Relaxed);
                }
                None => {
                    let count = consumer.redelivered.load(Ordering::Relaxed);
                    if count > 0 {
                        println!(
                            "redeliver: consumer={} own_pending={count} (read again after a restart)",
                            consumer.name
                        );
                    }
                    history = None;
                }
            }
        }
        submit_all(pool, consumer, entries);
    }
    Ok(())
}

/// Submits each entry, blocking while the queue is full. Once the pool
/// is stopped, the rest of the batch is left unacknowledged.
fn submit_all(pool: &Pool, consumer: &Arc<Consumer>, entries: Vec<StreamId>) {
    let mut entries = entries.into_iter();
    for entry in entries.by_ref() {
        let Some(sid) = entry.get::<u64>("sid") else {
            eprintln!("error: entry {} has no sid; skipped", entry.id);
            continue;
        };
        let session = Session {
            entry: entry.id,
            sid,
            consumer: consumer.clone(),
        };
        if pool.submit(Work::Session(session)).is_err() {
            // Stopped while waiting for room: this one stays pending too.
            consumer.left_unacked.fetch_add(1, Ordering::Relaxed);
            break;
        }
    }
    let rest = entries.count() as u64;
    consumer.left_unacked.fetch_add(rest, Ordering::Relaxed);
}

// === metrics ===

/// Answers every connection with the Prometheus text of the pool's
/// counters (any path, HTTP/1.0 or 1.1, then closes).
fn serve_metrics(listener: &TcpListener, pool: &Pool, consumer: &Consumer) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = answer(&mut stream, pool, consumer);
    }
}

fn answer(stream: &mut TcpStream, pool: &Pool, consumer: &Consumer) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let body = metrics_text(pool, consumer);
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn metrics_text(pool: &Pool, consumer: &Consumer) -> String {
    let stats = pool.stats();
    let label = format!("{{consumer=\"{}\"}}", consumer.name);
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let rows: [(&str, &str, &str, f64); 19] = [
        (
            "taskring_queued",
            "gauge",
            "Sessions in the local queue.",
            stats.queued as f64,
        ),
        (
            "taskring_queue_capacity",
            "gauge",
            "Capacity of the local queue.",
            QUEUE as f64,
        ),
        (
            "taskring_running",
            "gauge",
            "Sessions running now.",
            stats.running as f64,
        ),
        (
            "taskring_workers",
            "gauge",
            "Worker threads.",
            pool.workers() as f64,
        ),
        (
            "taskring_high_water",
            "gauge",
            "Deepest the local queue got.",
            stats.high_water as f64,
        ),
        (
            "taskring_submitted_total",
            "counter",
            "Sessions accepted by the pool.",
            stats.submitted as f64,
        ),
        (
            "taskring_completed_total",
            "counter",
            "Sessions run.",
            stats.completed as f64,
        ),
        (
            "taskring_panicked_total",
            "counter",
            "Sessions that panicked.",
            stats.panicked as f64,
        ),
        (
            "taskring_handed_back_total",
            "counter",
            "Sessions handed back by stop.",
            stats.handed_back as f64,
        ),
        (
            "taskring_lag_seconds",
            "gauge",
            "Age of the oldest queued session.",
            stats.lag_duration().as_secs_f64(),
        ),
        (
            "taskring_max_wait_seconds",
            "gauge",
            "Longest a session waited in the local queue.",
            stats.max_wait_duration().as_secs_f64(),
        ),
        (
            "taskring_lagging",
            "gauge",
            "1 between a lag alert and its recovery.",
            f64::from(u8::from(stats.lagging)),
        ),
        (
            "taskring_lag_events_total",
            "counter",
            "Lag alerts raised.",
            stats.lag_events as f64,
        ),
        (
            "taskring_overload_events_total",
            "counter",
            "Overload alerts raised.",
            stats.overload_events as f64,
        ),
        (
            "broker_acked_total",
            "counter",
            "Entries acknowledged after their session ran.",
            load(&consumer.acked),
        ),
        (
            "broker_ack_errors_total",
            "counter",
            "Sessions run but not acknowledged (an error).",
            load(&consumer.ack_errors),
        ),
        (
            "broker_reclaimed_total",
            "counter",
            "Entries claimed from idle consumers (XAUTOCLAIM).",
            load(&consumer.reclaimed),
        ),
        (
            "broker_redelivered_total",
            "counter",
            "Own pending entries read again after a restart.",
            load(&consumer.redelivered),
        ),
        (
            "broker_session_age_max_seconds",
            "gauge",
            "Oldest session run, since it entered the stream.",
            load(&consumer.max_age_ms) / 1e3,
        ),
    ];
    let mut text = String::new();
    for (name, kind, help, value) in rows {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{label} {value}\n"
        ));
    }
    text
}

// === status, wait, check ===

/// Pending entries of the whole group, and per consumer.
fn pending(con: &mut Connection, keys: &Keys) -> RedisResult<(usize, HashMap<String, usize>)> {
    let reply: StreamPendingReply = redis::cmd("XPENDING")
        .arg(&keys.stream)
        .arg(&keys.group)
        .query(con)?;
    Ok(match reply {
        StreamPendingReply::Data(data) => (
            data.count,
            data.consumers
                .into_iter()
                .map(|c| (c.name, c.pending))
                .collect(),
        ),
        _ => (0, HashMap::new()),
    })
}

/// One line: `done=<distinct sessions run> pending=<group> [consumer=<n>]`.
fn status(args: &Args) -> Result<(), Error> {
    let keys = Keys::from(args);
    let mut con = keys.connect()?;
    let done: usize = redis::cmd("HLEN").arg(&keys.done).query(&mut con)?;
    let (total, by_consumer) = pending(&mut con, &keys)?;
    let mut line = format!("done={done} pending={total}");
    if let Some(name) = args.values.get("name") {
        let own = by_consumer.get(name).copied().unwrap_or(0);
        line.push_str(&format!(" {name}={own}"));
    }
    println!("{line}");
    Ok(())
}

/// Waits until every session has run and nothing is pending, then prints
/// the catch-up time since `--since-ms` (default: now).
fn wait(args: &Args) -> Result<(), Error> {
    let keys = Keys::from(args);
    let sessions = args.required("sessions")? as usize;
    let timeout = Duration::from_secs(args.number("timeout-s", 120)?);
    let since = args.number("since-ms", now_ms())?;
    let start = Instant::now();
    let mut con = keys.connect()?;
    loop {
        let done: usize = redis::cmd("HLEN").arg(&keys.done).query(&mut con)?;
        let (total, _) = pending(&mut con, &keys)?;
        if done >= sessions && total == 0 {
            let secs = now_ms().saturating_sub(since) as f64 / 1e3;
            println!("catch-up: sessions={sessions} time_s={secs:.2}");
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(format!(
                "not caught up after {} s: {done} of {sessions} sessions ran, {total} entries pending",
                timeout.as_secs()
            )
            .into());
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Every session ran at least once, nothing is pending, and every
/// session that ran more than once had a run in a consumer that was
/// killed (`--killed`), at most `--max-extra-runs` extra runs in all.
fn check(args: &Args) -> Result<(), Error> {
    let keys = Keys::from(args);
    let sessions = args.required("sessions")?;
    let killed: HashSet<String> = args
        .text("killed", "")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let max_extra = args.number("max-extra-runs", 0)? as usize;
    let mut con = keys.connect()?;
    let length: u64 = redis::cmd("XLEN").arg(&keys.stream).query(&mut con)?;
    let runs: Vec<String> = redis::cmd("LRANGE")
        .arg(&keys.runs)
        .arg(0)
        .arg(-1)
        .query(&mut con)?;
    let (pending_total, by_consumer) = pending(&mut con, &keys)?;

    let mut by_session: HashMap<u64, Vec<String>> = HashMap::new();
    let mut failures = Vec::new();
    for run in &runs {
        let (sid, who) = run.split_once(' ').unwrap_or((run, ""));
        match sid.parse::<u64>() {
            Ok(sid) if sid < sessions => by_session.entry(sid).or_default().push(who.into()),
            _ => failures.push(format!("a run of an unknown session: {run:?}")),
        }
    }
    let lost = (0..sessions)
        .filter(|s| !by_session.contains_key(s))
        .count();
    let mut twice = 0;
    let mut extra = 0;
    let mut unexplained = Vec::new();
    for (sid, who) in &by_session {
        if who.len() > 1 {
            twice += 1;
            extra += who.len() - 1;
            // The first run that was not acknowledged must be a killed one.
            if !who.iter().any(|w| killed.contains(w)) {
                unexplained.push(format!("{sid} ({})", who.join(", ")));
            }
        }
    }
    unexplained.sort();

    println!(
        "processed: sessions={sessions} stream_entries={length} processed={} runs={}",
        by_session.len(),
        runs.len()
    );
    println!(
        "duplicates: processed_twice={twice} extra_runs={extra} allowed_extra_runs={max_extra} killed={}",
        if killed.is_empty() {
            String::from("-")
        } else {
            let mut names: Vec<_> = killed.iter().cloned().collect();
            names.sort();
            names.join(",")
        }
    );
    println!("lost: {lost}");
    println!("pending: {pending_total}");

    if length != sessions {
        failures.push(format!("the stream holds {length} entries, not {sessions}"));
    }
    if lost > 0 {
        let first: Vec<_> = (0..sessions)
            .filter(|s| !by_session.contains_key(s))
            .take(5)
            .collect();
        failures.push(format!("{lost} sessions never ran (first: {first:?})"));
    }
    if pending_total > 0 {
        failures.push(format!(
            "{pending_total} entries still pending, unacknowledged: {by_consumer:?}"
        ));
    }
    if !unexplained.is_empty() {
        failures.push(format!(
            "{} sessions ran more than once without a run in a killed consumer: {}",
            unexplained.len(),
            unexplained
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if extra > max_extra {
        failures.push(format!(
            "{extra} extra runs; a killed consumer can rerun at most what it had in flight ({max_extra})"
        ));
    }
    if failures.is_empty() {
        println!("check: ok");
        Ok(())
    } else {
        for failure in &failures {
            println!("check: FAIL: {failure}");
        }
        Err("the broker check failed".into())
    }
}

// === main ===

const USAGE: &str = "usage: taskring-broker <seed|consume|status|wait|check> [--flag value]...
  every command: --redis URL (redis://127.0.0.1:6379/) --stream KEY (sessions) --group NAME (pool)
  seed     --sessions N
  consume  --name C [--workers 4] [--batch 16] [--work-us 200] [--wait-us 5000]
           [--claim-idle-ms 2000] [--lag-high-ms 50] [--lag-low-ms 10] [--metrics-port 0]
  status   [--name C]
  wait     --sessions N [--timeout-s 120] [--since-ms EPOCH_MS]
  check    --sessions N [--killed C1,C2] [--max-extra-runs R]";

fn main() -> ExitCode {
    let words: Vec<String> = env::args().skip(1).collect();
    let Some(command) = words.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if matches!(command.as_str(), "-h" | "--help" | "help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match Args::parse(&words[1..]) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("{error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "seed" => seed(&args),
        "consume" => consume(&args),
        "status" => status(&args),
        "wait" => wait(&args),
        "check" => check(&args),
        other => {
            eprintln!("unknown command: {other}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
