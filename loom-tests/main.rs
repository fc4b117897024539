//! Loom models. Run with `RUSTFLAGS="--cfg loom"`; see TESTING in the README.
