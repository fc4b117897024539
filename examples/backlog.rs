//! Catching up on a backlog of sessions with a worker pool.
//!
//! A backend fell behind on session processing: thousands of sessions were
//! waiting. Each session needs a little CPU (parsing, scoring) and a short
//! blocking wait (a disk or network round trip), so more workers than
//! cores still pays. This example processes a synthetic backlog twice,
//! with 1 worker and then with `--workers` workers, shows live progress on
//! one line, and prints a summary of each run and the speed-up.
//!
//! ```sh
//! cargo run --release --features std --example backlog
//! cargo run --release --features std --example backlog -- --sessions 2000 --workers 16
//! ```
//!
//! Flags: `--sessions N` (default 6000), `--workers W` (1 to
//! `ThreadPool::MAX_WORKERS`, default 32; the pool starts exactly that
//! many threads), `--work-us U` (CPU per session in microseconds, default 100),
//! `--wait-us U` (blocking wait per session, default 1000), `--quiet` (no
//! progress line), `--csv FILE` (the queue depth and lag of both runs,
//! sampled every 5 ms; `scripts/plots.sh` draws them), `--help`. Each
//! overload or lag alert prints a line starting `event:` as it fires; the
//! live progress line goes to stderr, and only when stderr is a terminal.
//! Each run ends with one line starting `summary:`; the process exits with
//! status 1 if any session was lost.

use std::{
    env, fs,
    hint::black_box,
    io::{IsTerminal, Write},
    process::ExitCode,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use taskring::{PoolEvent, Stats, ThreadPool};

/// Queue capacity: submitters block (back-pressure) once this many
/// sessions wait.
const QUEUE: usize = 256;

/// Overload watermarks on the queue depth: `Overloaded` at `HIGH`,
/// `Recovered` back at `LOW`.
const HIGH: usize = QUEUE * 3 / 4;
const LOW: usize = QUEUE / 4;

/// Lag alert: `Lagging` once the oldest queued session has waited
/// `LAG_HIGH`, `LagRecovered` back at `LAG_LOW`.
const LAG_HIGH: Duration = Duration::from_millis(100);
const LAG_LOW: Duration = Duration::from_millis(20);

/// How often `--csv` samples the pool.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

const USAGE: &str = "usage: backlog [--sessions N] [--workers W] [--work-us U] [--wait-us U] [--quiet] [--csv FILE]";

/// The pool of this demo: the default job type (any closure), a queue of
/// `QUEUE` sessions; the worker count is chosen at run time.
type Pool = ThreadPool<taskring::Task, QUEUE>;

struct Options {
    sessions: usize,
    workers: usize,
    work: Duration,
    wait: Duration,
    quiet: bool,
    csv: Option<String>,
}

/// What `parse_args` found: options to run, or a request for help.
enum Parsed {
    Run(Options),
    Help,
}

fn parse_args() -> Result<Parsed, String> {
    let mut options = Options {
        sessions: 6000,
        workers: 32,
        work: Duration::from_micros(100),
        wait: Duration::from_micros(1000),
        quiet: false,
        csv: None,
    };
    let mut args = env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let text = args.next().ok_or(format!("{name} needs a value"))?;
            text.parse()
                .map_err(|_| format!("{name}: not a number: {text}"))
        };
        match flag.as_str() {
            "--sessions" => options.sessions = value("--sessions")? as usize,
            "--workers" => options.workers = value("--workers")? as usize,
            "--work-us" => options.work = Duration::from_micros(value("--work-us")?),
            "--wait-us" => options.wait = Duration::from_micros(value("--wait-us")?),
            "--quiet" => options.quiet = true,
            "--csv" => options.csv = Some(args.next().ok_or("--csv needs a file name")?),
            "-h" | "--help" => return Ok(Parsed::Help),
            other => return Err(format!("unknown flag: {other} (try --help)")),
        }
    }
    let max = Pool::MAX_WORKERS;
    if !(1..=max).contains(&options.workers) {
        return Err(format!("--workers must be 1 to {max}"));
    }
    Ok(Parsed::Run(options))
}

/// One session: `work` of CPU, then a blocking wait of `wait`.
fn process_session(id: usize, work: Duration, wait: Duration) -> u64 {
    let start = Instant::now();
    let mut hash = id as u64 ^ 0x9E37_79B9_7F4A_7C15;
    while start.elapsed() < work {
        for _ in 0..64 {
            hash = black_box(hash.rotate_left(5).wrapping_mul(0x100_0000_01B3) ^ 0xA5);
        }
    }
    thread::sleep(wait);
    hash
}

/// What every session job shares.
struct Sessions {
    work: Duration,
    wait: Duration,
    processed: AtomicUsize,
    checksum: AtomicUsize,
}

/// One `--csv` row: the pool `t` after the run started.
struct Sample {
    t: Duration,
    processed: usize,
    stats: Stats,
}

/// What one run measured.
struct Report {
    workers: usize,
    processed: usize,
    elapsed: Duration,
    high_water: usize,
    max_lag: Duration,
    panicked: usize,
    overloads: usize,
    samples: Vec<Sample>,
}

/// True while the live progress line may be on the terminal: an event
/// line first clears it.
fn live_progress(options: &Options) -> bool {
    !options.quiet && std::io::stderr().is_terminal()
}

/// One line per overload or lag event, as it fires.
fn print_event(label: &str, event: PoolEvent, live: bool) {
    let ms = |nanos: u64| Duration::from_nanos(nanos).as_secs_f64() * 1e3;
    let what = match event {
        PoolEvent::Overloaded { depth } => {
            format!("overloaded at depth {depth} (high watermark {HIGH})")
        }
        PoolEvent::Recovered { depth } => {
            format!("recovered at depth {depth} (low watermark {LOW})")
        }
        PoolEvent::Lagging { lag } => format!(
            "lagging: the oldest queued session waited {:.1} ms (alert at {} ms)",
            ms(lag),
            LAG_HIGH.as_millis()
        ),
        PoolEvent::LagRecovered { lag } => format!(
            "lag recovered: {:.1} ms (low mark {} ms)",
            ms(lag),
            LAG_LOW.as_millis()
        ),
        _ => return,
    };
    if live {
        // Clear the progress line so the event gets a line of its own.
        eprint!("\r\x1b[2K");
    }
    println!("event: {label}: {what}");
}

/// Processes the backlog on a pool of `workers` threads.
fn run(options: &Options, workers: usize, label: &str) -> Report {
    let overloads = Arc::new(AtomicUsize::new(0));
    let o = overloads.clone();
    let live = live_progress(options);
    let event_label = label.to_owned();
    let pool: Pool = ThreadPool::builder()
        .workers(workers)
        .name_prefix("session-")
        .watermarks(HIGH, LOW)
        // Stamps each session when queued (`lag` and `max_wait` below) and
        // alerts when the oldest has waited too long.
        .lag_alert(LAG_HIGH, LAG_LOW)
        .on_event(move |event| {
            if let PoolEvent::Overloaded { .. } = event {
                o.fetch_add(1, Ordering::Relaxed);
            }
            print_event(&event_label, event, live);
        })
        .build()
        .expect("start the workers");
    // One `Arc` for everything a session needs, so the job is two words.
    let shared = Arc::new(Sessions {
        work: options.work,
        wait: options.wait,
        processed: AtomicUsize::new(0),
        checksum: AtomicUsize::new(0),
    });
    let processed = &shared.processed;
    let start = Instant::now();
    let total = options.sessions;
    let mut max_lag = Duration::ZERO;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let mut draw = |pool: &Pool, done: bool| {
        let now = Instant::now();
        if !live || (!done && now - last_draw < Duration::from_millis(100)) {
            return;
        }
        last_draw = now;
        let stats = pool.stats();
        let count = processed.load(Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        let rate = count as f64 / secs;
        let eta = if rate > 0.0 {
            format!("{:>5.1} s", (total - count) as f64 / rate)
        } else {
            String::from("    --")
        };
        let state = if pool.is_overloaded() {
            "OVERLOADED"
        } else {
            "ok"
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{label}: {count:>7}/{total} | queue {:>3}/{QUEUE} | {rate:>8.0} sessions/s | ETA {eta} | {state:<10}",
            stats.queued
        );
        if done {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    };
    // `--csv`: a thread samples the pool every SAMPLE_EVERY until the run
    // ends. `sampling` is a stop flag only (Relaxed, pairs with nothing):
    // the join hands the samples over.
    let sampling = AtomicBool::new(options.csv.is_some());
    let mut samples = Vec::new();
    let mut elapsed = Duration::ZERO;
    thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut samples = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                samples.push(Sample {
                    t: start.elapsed(),
                    processed: processed.load(Ordering::Relaxed),
                    stats: pool.stats(),
                });
                thread::sleep(SAMPLE_EVERY);
            }
            samples
        });
        submit_and_drain(&pool, &shared, total, &mut max_lag, &mut draw);
        pool.stop_wait().expect("stop_wait from the main thread");
        elapsed = start.elapsed();
        if options.csv.is_some() {
            // One last row, after every session finished.
            thread::sleep(SAMPLE_EVERY);
        }
        sampling.store(false, Ordering::Relaxed);
        samples = sampler.join().expect("the sampler does not panic");
    });
    draw(&pool, true);
    let stats = pool.stats();
    black_box(shared.checksum.load(Ordering::Relaxed));
    Report {
        workers: pool.workers(),
        processed: processed.load(Ordering::Relaxed),
        elapsed,
        high_water: stats.high_water,
        max_lag: max_lag.max(Duration::from_nanos(stats.max_wait)),
        panicked: stats.panicked,
        overloads: overloads.load(Ordering::Relaxed),
        samples,
    }
}

/// Queues every session (blocking while the queue is full), then shows
/// progress until the queue drains.
fn submit_and_drain(
    pool: &Pool,
    shared: &Arc<Sessions>,
    total: usize,
    max_lag: &mut Duration,
    draw: &mut impl FnMut(&Pool, bool),
) {
    let processed = &shared.processed;
    for id in 0..total {
        let sessions = shared.clone();
        pool.execute(move || {
            let hash = process_session(id, sessions.work, sessions.wait);
            sessions
                .checksum
                .fetch_add(hash as usize & 1, Ordering::Relaxed);
            sessions.processed.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap_or_else(|_| panic!("session {id} refused"));
        *max_lag = (*max_lag).max(Duration::from_nanos(pool.stats().lag));
        draw(pool, false);
    }
    // Everything is queued or done; show progress until the queue drains.
    while processed.load(Ordering::Relaxed) + pool.stats().running < total && pool.queued() > 0 {
        *max_lag = (*max_lag).max(Duration::from_nanos(pool.stats().lag));
        draw(pool, false);
        thread::sleep(Duration::from_millis(20));
    }
}

/// Writes both runs' samples: a `#` line with the queue, watermarks and
/// lag marks, a header, then one row per sample.
fn write_csv(path: &str, reports: &[&Report]) -> std::io::Result<()> {
    let mut text = format!(
        "# queue={QUEUE} high_watermark={HIGH} low_watermark={LOW} lag_high_ms={} lag_low_ms={}\n\
         workers,t_s,processed,queued,lag_ms,overloaded,lagging\n",
        LAG_HIGH.as_millis(),
        LAG_LOW.as_millis()
    );
    for report in reports {
        for sample in &report.samples {
            text.push_str(&format!(
                "{},{:.4},{},{},{:.3},{},{}\n",
                report.workers,
                sample.t.as_secs_f64(),
                sample.processed,
                sample.stats.queued,
                sample.stats.lag_duration().as_secs_f64() * 1e3,
                u8::from(sample.stats.overloaded),
                u8::from(sample.stats.lagging),
            ));
        }
    }
    fs::write(path, text)
}

fn print_summary(options: &Options, report: &Report) {
    let secs = report.elapsed.as_secs_f64();
    println!(
        "summary: sessions={} processed={} lost={} workers={} time_s={:.2} throughput_per_s={:.0} high_water={} max_lag_ms={:.1} panics={} overloads={}",
        options.sessions,
        report.processed,
        options.sessions - report.processed.min(options.sessions),
        report.workers,
        secs,
        report.processed as f64 / secs.max(1e-9),
        report.high_water,
        report.max_lag.as_secs_f64() * 1e3,
        report.panicked,
        report.overloads,
    );
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    println!(
        "backlog: {} sessions, {:?} CPU + {:?} wait each, queue of {QUEUE}",
        options.sessions, options.work, options.wait
    );
    let one = run(&options, 1, "1 worker");
    print_summary(&options, &one);
    let label = format!("{} workers", options.workers);
    let many = run(&options, options.workers, &label);
    print_summary(&options, &many);
    println!(
        "speed-up: {:.1}x with {} workers ({:.2} s -> {:.2} s)",
        one.elapsed.as_secs_f64() / many.elapsed.as_secs_f64().max(1e-9),
        many.workers,
        one.elapsed.as_secs_f64(),
        many.elapsed.as_secs_f64()
    );
    if let Some(path) = &options.csv {
        if let Err(error) = write_csv(path, &[&one, &many]) {
            eprintln!("error: cannot write {path}: {error}");
            return ExitCode::FAILURE;
        }
        println!(
            "csv: {path} ({} samples)",
            one.samples.len() + many.samples.len()
        );
    }
    let lost = [&one, &many]
        .iter()
        .any(|report| report.processed != options.sessions || report.panicked != 0);
    if lost {
        eprintln!("error: sessions were lost or panicked");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
