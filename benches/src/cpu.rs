//! Process CPU time (user + system, every thread), from `getrusage`.
#![allow(unsafe_code)]

use std::time::Duration;

/// CPU time the whole process has used so far: user plus system, summed
/// over all its threads, live and exited.
pub fn process_time() -> Duration {
    let (user, system) = process_times();
    user + system
}

/// `(user, system)` CPU time of the whole process so far.
pub fn process_times() -> (Duration, Duration) {
    // SAFETY: `rusage` is plain old data, so all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`; `getrusage` only
    // writes into it.
    let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(status, 0, "getrusage failed");
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (time(usage.ru_utime), time(usage.ru_stime))
}
