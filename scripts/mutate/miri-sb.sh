#!/usr/bin/env bash
# Why the campaign does not use Miri for weakened SeqCst orderings: counts,
# over 100 rounds of each store-buffering variant, how often Miri's
# weak-memory emulation shows the outcome a = b = 0.
#
# Thread 1 writes x, then reads y; thread 2 writes y, then reads x. With a
# weakened (AcqRel) write on thread 1 followed by a SeqCst read, C++20
# allows a = b = 0 (rc11.py agrees: `rc11.py --self-test`, "SB AcqRel RMW,
# SC load / SC store, fence"); Miri never shows it, because it makes
# SeqCst accesses synchronize through a global clock.
#
#   scripts/mutate/miri-sb.sh     # needs nightly with the miri component
set -euo pipefail

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
cat >"$dir/Cargo.toml" <<'EOF'
[package]
name = "miri-sb"
version = "0.1.0"
edition = "2021"
publish = false
[workspace]
EOF
cat >"$dir/src/main.rs" <<'EOF'
use std::sync::atomic::{fence, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::thread;

type Side = fn(&AtomicUsize, &AtomicUsize) -> usize;

fn run(name: &str, first: Side, second: Side) {
    let mut weak = 0;
    for round in 0..100 {
        let (x, y) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (x1, y1) = (x.clone(), y.clone());
        let t = thread::spawn(move || first(&x1, &y1));
        for _ in 0..round % 3 {
            thread::yield_now();
        }
        let b = second(&x, &y);
        let a = t.join().unwrap();
        weak += usize::from(a == 0 && b == 0);
    }
    println!("{weak:3}/100  {name}");
}

fn main() {
    run("relaxed store, relaxed load | relaxed store, relaxed load (C++20: allowed)",
        |x, y| { x.store(1, Relaxed); y.load(Relaxed) },
        |x, y| { y.store(1, Relaxed); x.load(Relaxed) });
    run("AcqRel CAS, relaxed load | SeqCst store, SeqCst fence, relaxed load (allowed)",
        |x, y| { let _ = x.compare_exchange(0, 1, AcqRel, Relaxed); y.load(Relaxed) },
        |x, y| { y.store(1, SeqCst); fence(SeqCst); x.load(Relaxed) });
    run("AcqRel CAS, SeqCst load | SeqCst store, SeqCst fence, relaxed load (allowed)",
        |x, y| { let _ = x.compare_exchange(0, 1, AcqRel, Relaxed); y.load(SeqCst) },
        |x, y| { y.store(1, SeqCst); fence(SeqCst); x.load(Relaxed) });
    run("AcqRel CAS, SeqCst load | SeqCst store, relaxed load (allowed)",
        |x, y| { let _ = x.compare_exchange(0, 1, AcqRel, Relaxed); y.load(SeqCst) },
        |x, y| { y.store(1, SeqCst); x.load(Relaxed) });
    run("SeqCst CAS, SeqCst load | SeqCst store, SeqCst fence, relaxed load (forbidden)",
        |x, y| { let _ = x.compare_exchange(0, 1, SeqCst, Relaxed); y.load(SeqCst) },
        |x, y| { y.store(1, SeqCst); fence(SeqCst); x.load(Relaxed) });
}
EOF
cd "$dir"
MIRIFLAGS="${MIRIFLAGS:--Zmiri-preemption-rate=0.1 -Zmiri-seed=3}" cargo +nightly miri run -q
