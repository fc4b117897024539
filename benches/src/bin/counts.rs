//! Prints allocation counts per submitted task and the footprint table.
//! Its global allocator counts every heap allocation.

use taskring_bench::{alloc_count::Counting, counts};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    println!("## Heap allocations per task (all threads, submit until run; 10,000 tasks after a warm-up)\n");
    println!("| pool and call | by the submitting thread | whole process, submit until run |\n|---|---|---|");
    for (name, per) in counts::allocations_per_task() {
        println!("| {name} | {:.4} | {:.4} |", per.submitter, per.process);
    }
    println!(
        "| taskring `Ring` try_push + try_pop, 100,000 pairs (total calls) | {} | – |",
        counts::ring_allocations(100_000)
    );
    println!("\n## Footprint (x86_64; heap bytes measured by the counting allocator)\n");
    print!("{}", counts::footprint());
}
