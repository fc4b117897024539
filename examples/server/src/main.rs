//! A tokio HTTP server that offloads CPU-heavy "session processing" to a
//! taskring `ThreadPool` and sheds load with `503 Service Unavailable`
//! while the pool reports overload.
//!
//! ```sh
//! cargo run --release -p taskring-server -- --addr 127.0.0.1:8080 --workers 2
//! curl http://127.0.0.1:8080/session/42     # 200: "session 42 checksum ..."
//! curl http://127.0.0.1:8080/stats          # one line of counters
//! curl http://127.0.0.1:8080/quit           # prints a summary and exits
//! ```
//!
//! Each `/session/{id}` request runs `--work` rounds of a hash on the pool
//! (`ThreadPool::try_spawn`, then `.await` on the `JoinHandle`), so the
//! tokio threads only parse and answer. The pool's queue holds 64 jobs;
//! its watermarks raise `Overloaded` at 48 queued and `Recovered` at 16.
//! While overloaded, requests are answered 503 at once, without queueing;
//! a submit that finds the queue full is answered 503 too. The server
//! counts every answer by status and each 503 that went out while the
//! pool did *not* report overload (`shed_outside_overload`, which must
//! stay 0), prints each overload event as it fires, and a `summary:` line
//! when it quits. `scripts/server_load.sh` drives it with `wrk`.
//!
//! Flags: `--addr A` (default 127.0.0.1:8080), `--workers W` (default 2),
//! `--work N` (hash rounds per session, default 20000), `--help`.

use std::{
    convert::Infallible,
    env,
    net::SocketAddr,
    process::ExitCode,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Instant,
};

use http_body_util::Full;
use hyper::{
    body::{Bytes, Incoming},
    server::conn::http1,
    service::service_fn,
    Request, Response, StatusCode,
};
use hyper_util::rt::TokioIo;
use taskring::{PoolEvent, Task, ThreadPool};
use tokio::{net::TcpListener, sync::Notify};

/// The pool's queue capacity.
const QUEUE: usize = 64;
/// Overloaded at this many queued sessions...
const HIGH: usize = 48;
/// ... and recovered at this many or fewer.
const LOW: usize = 16;

/// Counters, shared by every connection.
#[derive(Default)]
struct Counters {
    received: AtomicU64,
    ok: AtomicU64,
    shed: AtomicU64,
    shed_outside_overload: AtomicU64,
    other_5xx: AtomicU64,
    not_found: AtomicU64,
    overload_events: AtomicU64,
    recoveries: AtomicU64,
}

impl Counters {
    fn line(&self, pool: &ThreadPool<Task, QUEUE>) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let stats = pool.stats();
        format!(
            "received={} ok={} shed={} shed_outside_overload={} other_5xx={} not_found={} \
             overload_events={} recoveries={} overloaded={} completed={} panicked={} high_water={}",
            get(&self.received),
            get(&self.ok),
            get(&self.shed),
            get(&self.shed_outside_overload),
            get(&self.other_5xx),
            get(&self.not_found),
            get(&self.overload_events),
            get(&self.recoveries),
            pool.is_overloaded(),
            stats.completed,
            stats.panicked,
            stats.high_water,
        )
    }
}

struct Server {
    pool: ThreadPool<Task, QUEUE>,
    counters: Arc<Counters>,
    work: u64,
    quit: Notify,
}

/// The CPU-heavy part of a session: `rounds` rounds of a 64-bit mix.
fn process_session(id: u64, rounds: u64) -> u64 {
    let mut x = id ^ 0x9E37_79B9_7F4A_7C15;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

impl Server {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path();
        if let Some(id) = path.strip_prefix("/session/") {
            let Ok(id) = id.parse::<u64>() else {
                return self.count(text(StatusCode::BAD_REQUEST, "bad session id\n".into()));
            };
            return self.count(self.session(id).await);
        }
        match path {
            "/stats" => text(StatusCode::OK, self.counters.line(&self.pool) + "\n"),
            "/quit" => {
                self.quit.notify_one();
                text(StatusCode::OK, "bye\n".into())
            }
            _ => self.count(text(StatusCode::NOT_FOUND, "not found\n".into())),
        }
    }

    /// Runs one session on the pool, or sheds it.
    async fn session(&self, id: u64) -> Response<Full<Bytes>> {
        if self.pool.is_overloaded() {
            return self.shed();
        }
        let rounds = self.work;
        match self.pool.try_spawn(move || process_session(id, rounds)) {
            Ok(handle) => match handle.await {
                Ok(sum) => text(
                    StatusCode::OK,
                    format!("session {id} checksum {sum:016x}\n"),
                ),
                Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")),
            },
            // Full (or Busy): the queue is at its capacity, far above the
            // high watermark, so the pool reports overload.
            Err(_) => self.shed(),
        }
    }

    fn shed(&self) -> Response<Full<Bytes>> {
        if !self.pool.is_overloaded() {
            self.counters
                .shed_outside_overload
                .fetch_add(1, Ordering::Relaxed);
        }
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded, try again later\n".into(),
        )
    }

    /// Counts one session answer by its status.
    fn count(&self, response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
        let c = &self.counters;
        c.received.fetch_add(1, Ordering::Relaxed);
        let counter = match response.status() {
            StatusCode::OK => &c.ok,
            StatusCode::SERVICE_UNAVAILABLE => &c.shed,
            status if status.is_server_error() => &c.other_5xx,
            _ => &c.not_found,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        response
    }
}

struct Args {
    addr: SocketAddr,
    workers: usize,
    work: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:8080".parse().expect("a valid default address"),
        workers: 2,
        work: 20_000,
    };
    let mut it = env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => args.addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--workers" => {
                args.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?
            }
            "--work" => args.work = value()?.parse().map_err(|e| format!("--work: {e}"))?,
            "--help" | "-h" => {
                return Err("usage: taskring-server [--addr A] [--workers W] [--work N]".into())
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if !args.addr.ip().is_loopback() {
        return Err("--addr must be a loopback address".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> ExitCode {
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let events = counters.clone();
    let pool = ThreadPool::<Task, QUEUE>::builder()
        .workers(args.workers)
        .name_prefix("session-")
        .watermarks(HIGH, LOW)
        .on_event(move |event| {
            let ms = started.elapsed().as_millis();
            match event {
                PoolEvent::Overloaded { depth } => {
                    events.overload_events.fetch_add(1, Ordering::Relaxed);
                    println!("event: overloaded depth={depth} t_ms={ms}");
                }
                PoolEvent::Recovered { depth } => {
                    events.recoveries.fetch_add(1, Ordering::Relaxed);
                    println!("event: recovered depth={depth} t_ms={ms}");
                }
                _ => {}
            }
        })
        .build()
        .expect("the session pool");
    let server = Arc::new(Server {
        pool,
        counters,
        work: args.work,
        quit: Notify::new(),
    });
    let listener = match TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {}: {error}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    println!(
        "listening on {} with {} pool workers, queue {QUEUE}, watermarks {HIGH}/{LOW}",
        listener.local_addr().map_or(args.addr, |a| a),
        args.workers
    );
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("accept: {error}");
                    continue;
                }
            },
            () = server.quit.notified() => break,
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.handle(request).await) }
            });
            // A client that goes away mid-request is not an error here.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    // Finish the queued sessions, join the pool's threads, then report.
    let pool_server = server.clone();
    tokio::task::spawn_blocking(move || pool_server.pool.stop_wait())
        .await
        .expect("the stop task")
        .expect("stop_wait from outside the pool");
    println!("summary: {}", server.counters.line(&server.pool));
    ExitCode::SUCCESS
}
