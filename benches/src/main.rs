//! taskring's benchmark suite: paired, interleaved ratios against the peers.
//!
//! ```text
//! taskring-bench [--smoke] [--out FILE] [--only q1,q4,p1,...] [--workers 1,2,4,8,16,40]
//!                [--sweep 1,2,4,8,16]
//! taskring-bench cell <q1|q2-64|q2-1024|q3-full|q3-empty> <contender> <ops>
//! ```
//!
//! The suite runs every scenario for R rounds; each round runs every
//! contender once, in an order rotated by one per round, and divides
//! taskring's time by each peer's time from the same round. The table shows
//! the median of those ratios with their quartiles and range; below 1.00
//! means taskring took less time. `cell` runs one scenario for one
//! contender and prints nothing, for instruction counts under callgrind.

use std::{
    collections::VecDeque,
    env,
    fmt::Write as _,
    fs,
    path::PathBuf,
    process,
    time::{Duration, Instant},
};

use taskring_bench::{
    asynch, context,
    pools::{self, ChannelPool, PoolContender, Rayon, ThreadpoolCrate},
    queues::{
        self, ArrayQueue, CbChannel, Concurrent, Heapless, MutexDeque, Padded, RawQueue,
        StdChannel, Stream, Taskring, Thingbuf,
    },
    stats::Summary,
};

/// Counts and rounds for one run.
#[derive(Debug, Clone)]
struct Settings {
    st_rounds: usize,
    mt_rounds: usize,
    pool_rounds: usize,
    q1_pairs: usize,
    q23_ops: usize,
    messages: usize,
    p1_tasks: usize,
    p2_batches: usize,
    p3_tasks: usize,
    p3_idle: Duration,
    p4_tasks: usize,
    p5_jobs: usize,
    p6_tasks: usize,
    /// Worker counts for P1–P4 (`--workers`); `None`: 2 for P1–P3 and P6,
    /// 40 for P4.
    workers: Option<Vec<usize>>,
}

impl Settings {
    fn full() -> Self {
        Self {
            st_rounds: 15,
            mt_rounds: 11,
            pool_rounds: 7,
            q1_pairs: 1_000_000,
            q23_ops: 1_000_000,
            messages: 1_000_000,
            p1_tasks: 200_000,
            p2_batches: 2_000,
            p3_tasks: 10_000,
            p3_idle: Duration::from_millis(50),
            p4_tasks: 200_000,
            p5_jobs: 100_000,
            p6_tasks: 200_000,
            workers: None,
        }
    }

    fn smoke() -> Self {
        Self {
            st_rounds: 3,
            mt_rounds: 3,
            pool_rounds: 3,
            q1_pairs: 10_000,
            q23_ops: 10_000,
            messages: 10_000,
            p1_tasks: 2_000,
            p2_batches: 20,
            p3_tasks: 500,
            p3_idle: Duration::from_millis(5),
            p4_tasks: 2_000,
            p5_jobs: 4_000,
            p6_tasks: 2_000,
            workers: None,
        }
    }
}

/// One contender's results in one scenario.
struct Row {
    scenario: String,
    contender: &'static str,
    unit: &'static str,
    values: Vec<f64>,
    ratios: Vec<f64>,
    extra_name: &'static str,
    extras: Vec<f64>,
}

/// A contender's measurement: (main value, extra value or NaN).
type Measure<'a> = Box<dyn FnMut() -> (f64, f64) + 'a>;

/// Runs `contenders` (taskring first) for `rounds` interleaved rounds after
/// one untimed warm-up pass, and pairs every value with taskring's from the
/// same round.
fn interleave(
    scenario: &str,
    unit: &'static str,
    extra_name: &'static str,
    rounds: usize,
    mut contenders: Vec<(&'static str, Measure<'_>)>,
) -> Vec<Row> {
    eprint!("{scenario:<16}");
    for (_, measure) in &mut contenders {
        measure();
    }
    let count = contenders.len();
    let mut values = vec![Vec::with_capacity(rounds); count];
    let mut extras = vec![Vec::with_capacity(rounds); count];
    for round in 0..rounds {
        for k in 0..count {
            let index = (k + round) % count;
            let (value, extra) = (contenders[index].1)();
            values[index].push(value);
            extras[index].push(extra);
        }
        eprint!(".");
    }
    eprintln!();
    contenders
        .iter()
        .enumerate()
        .map(|(index, (name, _))| Row {
            scenario: scenario.to_owned(),
            contender: name,
            unit,
            ratios: values[0]
                .iter()
                .zip(&values[index])
                .map(|(ours, peer)| ours / peer)
                .collect(),
            values: values[index].clone(),
            extra_name,
            extras: extras[index].clone(),
        })
        .collect()
}

/// ns per op of one single-thread scenario on a fresh queue of `Q`.
fn single<Q: RawQueue>(scenario: &str, capacity: usize, ops: usize) -> f64 {
    let queue = Q::with_capacity(capacity);
    let began = Instant::now();
    match scenario {
        "q1" => queues::q1(&queue, ops),
        "q2" => queues::q2(&queue, capacity, (ops / (2 * capacity)).max(1)),
        "q3-full" => {
            queues::fill(&queue, capacity);
            let began = Instant::now();
            queues::q3_push_full(&queue, ops);
            return began.elapsed().as_nanos() as f64 / ops as f64;
        }
        "q3-empty" => queues::q3_pop_empty(&queue, ops),
        _ => unreachable!("unknown scenario {scenario}"),
    }
    let ops = if scenario == "q2" {
        (ops / (2 * capacity)).max(1) * 2 * capacity
    } else {
        ops
    };
    began.elapsed().as_nanos() as f64 / ops as f64
}

/// ns per pair for a Q1 floor.
fn floor(kind: &str, pairs: usize) -> f64 {
    let took = if kind == "vecdeque" {
        let mut deque = VecDeque::with_capacity(1024);
        let began = Instant::now();
        queues::q1_vecdeque(&mut deque, pairs);
        began.elapsed()
    } else {
        let (a, b) = (Padded::default(), Padded::default());
        let began = Instant::now();
        queues::q1_two_faa(&a, &b, pairs);
        began.elapsed()
    };
    took.as_nanos() as f64 / pairs as f64
}

/// Calls `$f::<Queue type>($args)` for the contender key `$key` at
/// capacity `$cap` (a constant: taskring and heapless take it as a type
/// parameter).
macro_rules! with_queue {
    ($key:expr, $cap:literal, $f:ident ($($arg:expr),*)) => {
        match $key {
            "taskring" => Some($f::<Taskring<$cap>>($($arg),*)),
            "arrayqueue" => Some($f::<ArrayQueue>($($arg),*)),
            "heapless" => Some($f::<Heapless<$cap>>($($arg),*)),
            "concurrent" => Some($f::<Concurrent>($($arg),*)),
            "thingbuf" => Some($f::<Thingbuf>($($arg),*)),
            "cbchannel" => Some($f::<CbChannel>($($arg),*)),
            "std" => Some($f::<StdChannel>($($arg),*)),
            "mutex" => Some($f::<MutexDeque>($($arg),*)),
            _ => None,
        }
    };
}

/// Contender keys and report names, taskring first.
const QUEUES: [(&str, &str); 8] = [
    ("taskring", Taskring::<1024>::NAME),
    ("arrayqueue", ArrayQueue::NAME),
    ("heapless", Heapless::<1024>::NAME),
    ("concurrent", Concurrent::NAME),
    ("thingbuf", Thingbuf::NAME),
    ("cbchannel", CbChannel::NAME),
    ("std", StdChannel::NAME),
    ("mutex", MutexDeque::NAME),
];

fn single_contenders(
    scenario: &'static str,
    capacity: usize,
    ops: usize,
    floors: bool,
) -> Vec<(&'static str, Measure<'static>)> {
    let mut list: Vec<(&'static str, Measure<'static>)> = QUEUES
        .iter()
        .map(|&(key, name)| {
            let measure: Measure<'static> = if capacity == 64 {
                Box::new(move || {
                    (
                        with_queue!(key, 64, single(scenario, capacity, ops)).expect("key"),
                        f64::NAN,
                    )
                })
            } else {
                Box::new(move || {
                    (
                        with_queue!(key, 1024, single(scenario, capacity, ops)).expect("key"),
                        f64::NAN,
                    )
                })
            };
            (name, measure)
        })
        .collect();
    if floors {
        list.push((
            "floor: VecDeque, unsynchronised",
            Box::new(move || (floor("vecdeque", ops), f64::NAN)),
        ));
        list.push((
            "floor: 2 × fetch_add, 2 lines",
            Box::new(move || (floor("faa", ops), f64::NAN)),
        ));
    }
    list
}

fn stream<Q: RawQueue>(producers: usize, consumers: usize, messages: usize) -> Stream<Q> {
    Stream::new(1024, producers, consumers, messages)
}

/// Q4/Q5 (or a sweep point): `p` producers, `c` consumers.
fn streaming(scenario: &str, p: usize, c: usize, s: &Settings) -> Vec<Row> {
    let messages = s.messages;
    let st = stream::<Taskring<1024>>(p, c, messages);
    let aq = stream::<ArrayQueue>(p, c, messages);
    let hl = stream::<Heapless<1024>>(p, c, messages);
    let cq = stream::<Concurrent>(p, c, messages);
    let tb = stream::<Thingbuf>(p, c, messages);
    let cb = stream::<CbChannel>(p, c, messages);
    let sd = stream::<StdChannel>(p, c, messages);
    let mx = stream::<MutexDeque>(p, c, messages);
    let total = (messages / p * p) as f64;
    macro_rules! m {
        ($s:expr) => {{
            let s = &$s;
            Box::new(move || {
                let ns = s.round().as_nanos() as f64 / total;
                (ns, 1e3 / ns)
            }) as Measure<'_>
        }};
    }
    interleave(
        scenario,
        "ns/msg",
        "M msg/s",
        s.mt_rounds,
        vec![
            (QUEUES[0].1, m!(st)),
            (QUEUES[1].1, m!(aq)),
            (QUEUES[2].1, m!(hl)),
            (QUEUES[3].1, m!(cq)),
            (QUEUES[4].1, m!(tb)),
            (QUEUES[5].1, m!(cb)),
            (QUEUES[6].1, m!(sd)),
            (QUEUES[7].1, m!(mx)),
        ],
    )
}

/// The four pools, each started with the same number of workers.
struct Pools {
    ours: pools::Taskring,
    tp: ThreadpoolCrate,
    ry: Rayon,
    ch: ChannelPool,
}

impl Pools {
    fn start(workers: usize) -> Self {
        Self {
            ours: pools::Taskring::start(workers),
            tp: ThreadpoolCrate::start(workers),
            ry: Rayon::start(workers),
            ch: ChannelPool::start(workers),
        }
    }

    fn shutdown(self) {
        self.ours.shutdown();
        self.tp.shutdown();
        self.ry.shutdown();
        self.ch.shutdown();
    }
}

/// One measurement per pool of `$pools`, taskring first: `$f` is a closure
/// literal taking `&P`, expanded once per pool type.
macro_rules! each_pool {
    ($pools:expr, $f:expr) => {{
        let pools = &$pools;
        vec![
            (
                pools::Taskring::NAME,
                Box::new(|| $f(&pools.ours)) as Measure<'_>,
            ),
            (
                ThreadpoolCrate::NAME,
                Box::new(|| $f(&pools.tp)) as Measure<'_>,
            ),
            (Rayon::NAME, Box::new(|| $f(&pools.ry)) as Measure<'_>),
            (ChannelPool::NAME, Box::new(|| $f(&pools.ch)) as Measure<'_>),
        ]
    }};
}

/// P1, P2, P3 and P6, one submitter, `workers` workers in every pool.
fn pool_scenarios(
    workers: usize,
    s: &Settings,
    only: &dyn Fn(&str) -> bool,
    notes: &mut Vec<String>,
) -> Vec<Row> {
    let all = Pools::start(workers);
    let mut rows = Vec::new();
    if only("p1") {
        let n = s.p1_tasks;
        rows.extend(interleave(
            &format!("P1 W={workers}"),
            "ns/task",
            "",
            s.pool_rounds,
            each_pool!(all, |p| (pools::drain(p, n, pools::task), f64::NAN)),
        ));
    }
    if only("p2") {
        let n = s.p2_batches;
        rows.extend(interleave(
            &format!("P2 W={workers}"),
            "ns/submit p50",
            "p99 ns",
            s.pool_rounds,
            each_pool!(all, |p| pools::p2(p, n)),
        ));
    }
    if only("p3") {
        let (n, idle) = (s.p3_tasks, s.p3_idle);
        rows.extend(interleave(
            &format!("P3 W={workers}"),
            "ns/task",
            "first-start ns",
            s.pool_rounds,
            each_pool!(all, |p| pools::p3(p, n, idle)),
        ));
    }
    if only("p6") {
        let n = s.p6_tasks;
        let size = std::mem::size_of_val(&pools::boxed_task(0));
        notes.push(format!(
            "P6 task: {size}-byte closure (a String and three words), boxed by every pool"
        ));
        rows.extend(interleave(
            &format!("P6 W={workers}"),
            "ns/task",
            "",
            s.pool_rounds,
            each_pool!(all, |p| (pools::drain(p, n, pools::boxed_task), f64::NAN)),
        ));
    }
    all.shutdown();
    rows
}

/// P4: `workers` workers, one submitter, tasks of `iterations` spin turns
/// (about 1 µs).
fn p4(workers: usize, s: &Settings, iterations: usize) -> Vec<Row> {
    let all = Pools::start(workers);
    let n = s.p4_tasks;
    let rows = interleave(
        &format!("P4 W={workers}"),
        "ns/task",
        "",
        s.pool_rounds,
        each_pool!(all, |p| (
            pools::drain(p, n, |_| pools::spin_task(iterations)),
            f64::NAN
        )),
    );
    all.shutdown();
    rows
}

/// P5's shape: submitters and workers (oversubscribed on 2 vCPUs).
const P5_SUBMITTERS: usize = 8;
const P5_WORKERS: usize = 4;

/// P5: one fresh pool per measurement, alone in the process while it is
/// timed (the others are shut down), so the CPU time is its own.
fn p5_once<P: PoolContender>(jobs: usize, counters: Option<&mut Option<String>>) -> (f64, f64) {
    let pool = P::start(P5_WORKERS);
    // Let the new threads start and park, and the last pool's exit settle.
    std::thread::sleep(Duration::from_millis(10));
    let measured = pools::crowd(&pool, P5_SUBMITTERS, jobs);
    if let Some(slot) = counters {
        *slot = pool.counters();
    }
    pool.shutdown();
    measured
}

/// P5: wall time and process CPU time per job; two groups of rows.
fn p5(s: &Settings, notes: &mut Vec<String>) -> Vec<Row> {
    let n = s.p5_jobs;
    let mut counters = None;
    let scenario = format!("P5 {P5_SUBMITTERS}S/W={P5_WORKERS} wall");
    let wall = interleave(
        &scenario,
        "ns/job",
        "CPU ns/job",
        s.pool_rounds,
        vec![
            (
                pools::Taskring::NAME,
                Box::new(|| p5_once::<pools::Taskring>(n, Some(&mut counters))) as Measure<'_>,
            ),
            (
                ThreadpoolCrate::NAME,
                Box::new(|| p5_once::<ThreadpoolCrate>(n, None)),
            ),
            (Rayon::NAME, Box::new(|| p5_once::<Rayon>(n, None))),
            (
                ChannelPool::NAME,
                Box::new(|| p5_once::<ChannelPool>(n, None)),
            ),
        ],
    );
    if let Some(counters) = counters {
        notes.push(format!(
            "P5 taskring stats after its last round: {counters}"
        ));
    }
    let cpu = wall
        .iter()
        .map(|row| Row {
            scenario: format!("P5 {P5_SUBMITTERS}S/W={P5_WORKERS} CPU"),
            contender: row.contender,
            unit: "CPU ns/job",
            values: row.extras.clone(),
            ratios: wall[0]
                .extras
                .iter()
                .zip(&row.extras)
                .map(|(ours, peer)| ours / peer)
                .collect(),
            extra_name: "",
            extras: vec![f64::NAN; row.extras.len()],
        })
        .collect::<Vec<_>>();
    wall.into_iter().chain(cpu).collect()
}

/// Every pool scenario that `only` selects: P1–P3 and P6 at each of
/// `workers` (default 2), P4 at each of `workers` (default 40), then P5.
fn pool_suite(
    workers: Option<&[usize]>,
    s: &Settings,
    only: &dyn Fn(&str) -> bool,
    notes: &mut Vec<String>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    if ["p1", "p2", "p3", "p6"].iter().any(|p| only(p)) {
        for &w in workers.unwrap_or(&[2]) {
            rows.extend(pool_scenarios(w, s, only, notes));
        }
    }
    if only("p4") {
        let iterations = pools::calibrate(Duration::from_micros(1));
        notes.push(format!(
            "P4 task: {iterations} spin-loop turns ≈ 1 µs on one thread here (calibrated at start-up)"
        ));
        for &w in workers.unwrap_or(&[40]) {
            rows.extend(p4(w, s, iterations));
        }
    }
    if only("p5") {
        rows.extend(p5(s, notes));
    }
    rows
}

/// The async scenarios A1 and A2 (see `taskring_bench::asynch`).
fn async_suite(s: &Settings, smoke: bool, only: &dyn Fn(&str) -> bool) -> Vec<Row> {
    let mut rows = Vec::new();
    if only("a1") {
        let jobs = if smoke { 200 } else { 10_000 };
        rows.extend(interleave(
            "A1 spawn.await",
            "ns/job",
            "",
            s.pool_rounds,
            asynch::a1_contenders(jobs),
        ));
    }
    if only("a2") {
        let ops = if smoke { 2_048 } else { 200_000 };
        rows.extend(interleave(
            "A2 submit w/ room",
            "ns/op",
            "",
            s.st_rounds,
            asynch::a2_contenders(ops),
        ));
    }
    rows
}

fn fmt_num(value: f64) -> String {
    if value.is_nan() {
        "–".into()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The Markdown table and the CSV text.
fn report(rows: &[Row]) -> (String, String) {
    let mut table = String::new();
    let mut csv = String::from(
        "scenario,contender,unit,median,p25,p75,ratio_median,ratio_p25,ratio_p75,ratio_min,ratio_max,extra,extra_median,rounds\n",
    );
    table.push_str("| scenario | contender | median | unit | taskring ÷ peer (time), median | IQR | min–max | extra (median) |\n");
    table.push_str("|---|---|---|---|---|---|---|---|\n");
    for row in rows {
        let v = Summary::of(&row.values);
        let r = Summary::of(&row.ratios);
        let e = Summary::of(&row.extras);
        let ours = row.contender.starts_with("taskring");
        let ratio = if ours {
            "1 (ours)".into()
        } else {
            format!("**{:.2}**", r.median)
        };
        let spread = if ours {
            "–".into()
        } else {
            format!("{:.2}–{:.2}", r.p25, r.p75)
        };
        let range = if ours {
            "–".into()
        } else {
            format!("{:.2}–{:.2}", r.min, r.max)
        };
        let extra = if row.extra_name.is_empty() || e.median.is_nan() {
            String::new()
        } else {
            format!("{} {}", fmt_num(e.median), row.extra_name)
        };
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.contender,
            fmt_num(v.median),
            row.unit,
            ratio,
            spread,
            range,
            extra
        );
        let _ = writeln!(
            csv,
            "{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{:.4},{}",
            row.scenario,
            row.contender,
            row.unit,
            v.median,
            v.p25,
            v.p75,
            r.median,
            r.p25,
            r.p75,
            r.min,
            r.max,
            row.extra_name,
            e.median,
            row.values.len()
        );
    }
    (table, csv)
}

/// The issue's goals, read off the rows (reported, never gated).
fn goals(rows: &[Row]) -> String {
    let ratio = |scenario: &str, peer: &str| {
        rows.iter()
            .find(|r| r.scenario == scenario && r.contender == peer)
            .map(|r| Summary::of(&r.ratios).median)
    };
    let value = |scenario: &str, peer: &str| {
        rows.iter()
            .find(|r| r.scenario == scenario && r.contender.starts_with(peer))
            .map(|r| Summary::of(&r.values).median)
    };
    let mut out = String::new();
    let mut line = |goal: &str, got: Option<f64>, ok: fn(f64) -> bool| {
        if let Some(got) = got {
            let verdict = if ok(got) { "met" } else { "MISSED" };
            let _ = writeln!(out, "goal {goal}: {got:.3} ({verdict})");
        }
    };
    line(
        "Q1 time ≤ 1.00 × ArrayQueue",
        ratio("Q1", ArrayQueue::NAME),
        |x| x <= 1.0,
    );
    line(
        "Q4 time ≤ 1.00 × ArrayQueue (throughput ≥ 1.0 ×)",
        ratio("Q4 1P1C", ArrayQueue::NAME),
        |x| x <= 1.0,
    );
    line(
        "Q5 time ≤ 1.00 × ArrayQueue (throughput ≥ 1.0 ×)",
        ratio("Q5 2P2C", ArrayQueue::NAME),
        |x| x <= 1.0,
    );
    line(
        "P1 ≤ 0.25 × threadpool",
        ratio("P1 W=2", ThreadpoolCrate::NAME),
        |x| x <= 0.25,
    );
    line("P1 ≤ 0.50 × rayon", ratio("P1 W=2", Rayon::NAME), |x| {
        x <= 0.5
    });
    line(
        "P2 p50 ≤ 30 ns per submit",
        value("P2 W=2", "taskring"),
        |x| x <= 30.0,
    );
    line("P3 ≤ 0.50 × rayon", ratio("P3 W=2", Rayon::NAME), |x| {
        x <= 0.5
    });
    line(
        "A1 spawn.await ≤ 0.50 × tokio spawn_blocking.await",
        ratio("A1 spawn.await", asynch::A1_TOKIO),
        |x| x <= 0.5,
    );
    let a2 = value("A2 submit w/ room", asynch::A2_ASYNC)
        .zip(value("A2 submit w/ room", asynch::A2_TRY))
        .map(|(ours, peer)| ours - peer);
    line("A2 submit_async − try_submit ≤ 10 ns", a2, |x| {
        x <= 10.0
    });
    out
}

/// `cell <scenario> <contender> <ops>`: one measurement, nothing printed.
fn cell(args: &[String]) -> Result<(), String> {
    let [scenario, key, ops] = args else {
        return Err("usage: cell <q1|q2-64|q2-1024|q3-full|q3-empty> <contender> <ops>".into());
    };
    let ops: usize = ops.parse().map_err(|_| format!("bad op count {ops}"))?;
    let done = match (scenario.as_str(), key.as_str()) {
        ("q1", "vecdeque" | "faa") => Some(floor(key, ops)),
        ("q1", _) => with_queue!(key.as_str(), 1024, single("q1", 1024, ops)),
        ("q2-64", _) => with_queue!(key.as_str(), 64, single("q2", 64, ops)),
        ("q2-1024", _) => with_queue!(key.as_str(), 1024, single("q2", 1024, ops)),
        ("q3-full", _) => with_queue!(key.as_str(), 1024, single("q3-full", 1024, ops)),
        ("q3-empty", _) => with_queue!(key.as_str(), 1024, single("q3-empty", 1024, ops)),
        _ => None,
    };
    done.map(drop)
        .ok_or_else(|| format!("unknown scenario or contender: {scenario} {key}"))
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("cell") {
        if let Err(error) = cell(&args[1..]) {
            eprintln!("taskring-bench: {error}");
            process::exit(2);
        }
        return;
    }
    let mut settings = Settings::full();
    let mut out = PathBuf::from("target/bench/results.csv");
    let mut only: Option<Vec<String>> = None;
    let mut sweep: Vec<usize> = Vec::new();
    let mut smoke = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--smoke" => {
                smoke = true;
                settings = Settings {
                    workers: settings.workers,
                    ..Settings::smoke()
                }
            }
            "--out" => out = iter.next().map(PathBuf::from).unwrap_or(out),
            "--only" => {
                only = iter
                    .next()
                    .map(|l| l.split(',').map(str::to_lowercase).collect())
            }
            "--sweep" => {
                sweep = iter
                    .next()
                    .map(|l| l.split(',').filter_map(|n| n.parse().ok()).collect())
                    .unwrap_or_default();
            }
            "--workers" => {
                let list: Vec<usize> = iter
                    .next()
                    .map(|l| l.split(',').filter_map(|n| n.parse().ok()).collect())
                    .unwrap_or_default();
                if list.is_empty() || list.contains(&0) {
                    eprintln!(
                        "taskring-bench: --workers takes a list of counts ≥ 1, e.g. 1,2,4,8,16,40"
                    );
                    process::exit(2);
                }
                settings.workers = Some(list);
            }
            "-h" | "--help" => {
                println!("usage: taskring-bench [--smoke] [--out FILE] [--only q1,q2,q3,q4,q5,p1,p2,p3,p4,p5,p6,a1,a2]");
                println!("                      [--workers 1,2,4,8,16,40] [--sweep 1,2,4,8,16]");
                println!("  --workers: worker counts for P1-P4 and P6 (default: 2; P4: 40)");
                println!(
                    "  --sweep:   MPMC with t producers and t consumers, and the pools with W = t"
                );
                println!("       taskring-bench cell <q1|q2-64|q2-1024|q3-full|q3-empty> <contender> <ops>");
                return;
            }
            other => {
                eprintln!("taskring-bench: unknown argument {other} (try --help)");
                process::exit(2);
            }
        }
    }
    let only = move |name: &str| {
        only.as_ref()
            .is_none_or(|list| list.iter().any(|o| o == name))
    };

    println!("# taskring benchmark suite");
    for (key, value) in context::machine() {
        println!("{key}: {value}");
    }
    if context::load_average().is_some_and(|load| load > 0.5) {
        println!(
            "warning: the 1-minute load average is above 0.5; multi-thread ratios will be noisy"
        );
    }
    println!(
        "wait policy (raw queues, all contenders): 64 × spin_loop, then yield_now; ratios are taskring time ÷ peer time in the same round (below 1 = taskring faster)"
    );
    let started = Instant::now();
    let s = &settings;
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if sweep.is_empty() {
        if only("q1") {
            rows.extend(interleave(
                "Q1",
                "ns/pair",
                "",
                s.st_rounds,
                single_contenders("q1", 1024, s.q1_pairs, true),
            ));
        }
        if only("q2") {
            rows.extend(interleave(
                "Q2 cap 64",
                "ns/op",
                "",
                s.st_rounds,
                single_contenders("q2", 64, s.q23_ops, false),
            ));
            rows.extend(interleave(
                "Q2 cap 1024",
                "ns/op",
                "",
                s.st_rounds,
                single_contenders("q2", 1024, s.q23_ops, false),
            ));
        }
        if only("q3") {
            rows.extend(interleave(
                "Q3 push full",
                "ns/op",
                "",
                s.st_rounds,
                single_contenders("q3-full", 1024, s.q23_ops, false),
            ));
            rows.extend(interleave(
                "Q3 pop empty",
                "ns/op",
                "",
                s.st_rounds,
                single_contenders("q3-empty", 1024, s.q23_ops, false),
            ));
        }
        if only("q4") {
            rows.extend(streaming("Q4 1P1C", 1, 1, s));
        }
        if only("q5") {
            rows.extend(streaming("Q5 2P2C", 2, 2, s));
        }
        rows.extend(pool_suite(s.workers.as_deref(), s, &only, &mut notes));
        rows.extend(async_suite(s, smoke, &only));
    } else {
        for &threads in &sweep {
            if only("q5") {
                rows.extend(streaming(
                    &format!("MPMC {threads}P{threads}C"),
                    threads,
                    threads,
                    s,
                ));
            }
        }
        rows.extend(pool_suite(Some(&sweep), s, &only, &mut notes));
    }
    let (table, csv) = report(&rows);
    println!();
    print!("{table}");
    println!();
    for note in &notes {
        println!("note: {note}");
    }
    if smoke {
        println!("goals: not read in --smoke mode (the counts are too small to mean anything)");
    } else {
        print!("{}", goals(&rows));
    }
    println!("suite time: {:.1} s", started.elapsed().as_secs_f64());
    if let Some(dir) = out.parent() {
        let _ = fs::create_dir_all(dir);
    }
    match fs::write(&out, csv) {
        Ok(()) => println!("csv: {}", out.display()),
        Err(error) => eprintln!("taskring-bench: could not write {}: {error}", out.display()),
    }
}
