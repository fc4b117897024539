//! The machine context printed before any number.

use std::fs;

/// `(key, value)` pairs: CPUs, CPU model, compiler, load average, build.
pub fn machine() -> Vec<(&'static str, String)> {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    vec![
        ("nproc", cpus.to_string()),
        ("cpu", model),
        ("rustc", env!("BENCH_RUSTC_VERSION").to_owned()),
        (
            "loadavg_1m",
            load_average().map_or("unknown".into(), |l| format!("{l:.2}")),
        ),
        (
            "build",
            if cfg!(debug_assertions) {
                "debug (numbers meaningless)"
            } else {
                "optimized"
            }
            .into(),
        ),
    ]
}

/// The one-minute load average, where `/proc/loadavg` exists.
pub fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
