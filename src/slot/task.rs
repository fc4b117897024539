//! [`Task`]: a type-erased `FnOnce() + Send + 'static` stored inline.

use core::{
    fmt,
    marker::PhantomData,
    mem::{self, ManuallyDrop, MaybeUninit},
};

/// A closure stored inline in `WORDS` machine words, with no heap.
///
/// `Task` is what a [`Pool`](crate::Pool) of mixed closures holds: one
/// pointer to a static table of two functions plus the closure's captures,
/// so `size_of::<Task<WORDS>>() == (WORDS + 1) * size_of::<usize>()`. The
/// default, three words, fits a closure capturing an `Arc` and two integers.
///
/// A closure that does not fit, or that needs more than `usize` alignment,
/// is rejected at **compile time**:
///
/// ```compile_fail
/// let big = [0u64; 8];
/// let task: taskring::Task = taskring::Task::new(move || drop(big));
/// ```
///
/// Ask for more room with the `WORDS` parameter instead:
///
/// ```
/// let big = [1u64; 8];
/// let task: taskring::Task<8> = taskring::Task::new(move || assert_eq!(big.len(), 8));
/// task.run();
/// ```
///
/// Dropping a `Task` without running it drops its captures exactly once.
pub struct Task<const WORDS: usize = 3> {
    vtable: &'static VTable,
    /// Holds a closure of the type `vtable` was made for. `Task` is `Send`
    /// and `Sync` through this plain-data field: `new` only accepts
    /// `F: Send`, and `&Task` gives no access to the closure.
    storage: MaybeUninit<[usize; WORDS]>,
}

/// Functions that know the erased closure's type.
struct VTable {
    /// Moves the closure out of the storage and calls it.
    call: unsafe fn(*mut u8),
    /// Drops the closure in place.
    drop: unsafe fn(*mut u8),
    size: usize,
}

/// Builds the [`VTable`] for closure type `F`.
struct VTableFor<F>(PhantomData<F>);

impl<F: FnOnce()> VTableFor<F> {
    const VTABLE: VTable = VTable {
        call: Self::call,
        drop: Self::drop,
        size: mem::size_of::<F>(),
    };

    /// # Safety
    ///
    /// `storage` must point to a valid, initialized `F` that the caller owns
    /// and never uses again.
    unsafe fn call(storage: *mut u8) {
        // SAFETY: The caller guarantees an owned, initialized `F` at
        // `storage`, suitably aligned (checked when the task was built);
        // reading moves it out, and the caller never touches it again.
        let f = unsafe { storage.cast::<F>().read() };
        f();
    }

    /// # Safety
    ///
    /// As for [`call`](Self::call).
    unsafe fn drop(storage: *mut u8) {
        // SAFETY: As in `call`: an owned, initialized, aligned `F` that is
        // dropped here exactly once.
        unsafe { storage.cast::<F>().drop_in_place() };
    }
}

// === impl Task ===

impl<const WORDS: usize> Task<WORDS> {
    /// Stores `f` inline.
    ///
    /// Fails to compile if `f` is larger than `WORDS` words or aligned
    /// more strictly than `usize`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
    /// use taskring::Task;
    ///
    /// let hits = Arc::new(AtomicUsize::new(0));
    /// let (a, b) = (2usize, 3usize);
    /// let h = hits.clone();
    /// let task: Task = Task::new(move || {
    ///     h.fetch_add(a * b, Ordering::Relaxed);
    /// });
    /// task.run();
    /// assert_eq!(hits.load(Ordering::Relaxed), 6);
    /// ```
    pub fn new<F>(f: F) -> Self
    where
        F: FnOnce() + Send + 'static,
    {
        const {
            assert!(
                mem::size_of::<F>() <= WORDS * mem::size_of::<usize>(),
                "taskring: closure too big for Task<WORDS>: capture less (e.g. one Arc of the state) or use a larger Task<WORDS>",
            );
            assert!(
                mem::align_of::<F>() <= mem::align_of::<usize>(),
                "taskring: closure is aligned more strictly than usize: Task cannot store it inline; capture a reference or a Box instead",
            );
        }
        let mut storage = MaybeUninit::<[usize; WORDS]>::uninit();
        // SAFETY: The const assertions above prove that `F` fits in the
        // storage and that the storage (aligned for `usize`) is aligned for
        // `F`. The storage is fresh, so nothing is overwritten.
        unsafe { storage.as_mut_ptr().cast::<F>().write(f) };
        Self {
            vtable: &VTableFor::<F>::VTABLE,
            storage,
        }
    }

    /// Runs the closure, consuming the task.
    ///
    /// # Examples
    ///
    /// ```
    /// let task: taskring::Task = taskring::Task::new(|| println!("hello"));
    /// task.run();
    /// ```
    pub fn run(self) {
        let mut this = ManuallyDrop::new(self);
        let call = this.vtable.call;
        // SAFETY: `storage` holds the closure `vtable` was built for (set in
        // `new`, never changed). `ManuallyDrop` keeps `Drop` from dropping
        // it again after `call` has moved it out, and `this` is not used
        // afterwards.
        unsafe { call(this.storage.as_mut_ptr().cast::<u8>()) };
    }

    /// The size in bytes of the stored closure's captures.
    pub fn captures_size(&self) -> usize {
        self.vtable.size
    }
}

impl<const WORDS: usize> Drop for Task<WORDS> {
    fn drop(&mut self) {
        let drop_fn = self.vtable.drop;
        // SAFETY: A `Task` that reaches `Drop` was never run (`run` wraps it
        // in `ManuallyDrop`), so `storage` still holds the closure `vtable`
        // was built for; it is dropped here exactly once.
        unsafe { drop_fn(self.storage.as_mut_ptr().cast::<u8>()) };
    }
}

impl<const WORDS: usize> fmt::Debug for Task<WORDS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("captures_size", &self.vtable.size)
            .field("capacity", &(WORDS * mem::size_of::<usize>()))
            .finish()
    }
}
