//! A Redis stream consumed by one taskring `ThreadPool` per process.

fn main() {}
