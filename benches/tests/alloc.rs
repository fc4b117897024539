//! Allocation counts: taskring's submit paths allocate nothing per task
//! when the closure fits a `Task`, and exactly one box when it does not;
//! the peers' counts are printed alongside (`--nocapture`). A count, not a
//! time, so it is safe to assert anywhere.

use taskring_bench::{alloc_count::Counting, counts};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn taskring_submits_allocate_nothing() {
    let rows = counts::allocations_per_task();
    for (name, per) in &rows {
        println!("{name}: {per:?} allocations per task");
    }
    // Exact: the submitting thread allocates nothing in 10,000 submits. (The
    // whole-process count is not asserted: a worker's first-use thread-local
    // or the test harness may allocate once meanwhile.)
    let ours = |name: &str| name.starts_with("taskring");
    let boxed = |name: &str| name.contains("boxed");
    for (name, per) in rows.iter().filter(|(n, _)| ours(n) && !boxed(n)) {
        assert_eq!(per.submitter, 0.0, "{name} allocates per task");
        assert!(
            per.process < 0.01,
            "{name}: {} allocations per task",
            per.process
        );
    }
    // A closure too big for a `Task` costs exactly its box, nothing more.
    for (name, per) in rows.iter().filter(|(n, _)| ours(n) && boxed(n)) {
        assert_eq!(per.submitter, 1.0, "{name}: one box per task expected");
    }
    // The peers box every task: if this ever reads 0, the harness is broken.
    for (name, per) in rows.iter().filter(|(n, _)| !ours(n)) {
        assert!(
            per.submitter >= 1.0,
            "{name}: expected an allocation per task, got {per:?}"
        );
    }
    assert_eq!(
        counts::ring_allocations(10_000),
        0,
        "ring operations allocate"
    );
}
