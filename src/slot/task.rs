//! [`Task`]: a type-erased `FnOnce() + Send + 'static`, stored inline when
//! it fits.

use core::{
    fmt,
    marker::PhantomData,
    mem::{self, ManuallyDrop, MaybeUninit},
};

/// A closure stored inline in `WORDS` machine words when it fits.
///
/// `Task` is what a [`Pool`](crate::Pool) of mixed closures holds: one
/// pointer to a static table of two functions plus the closure's captures,
/// so `size_of::<Task<WORDS>>() == (WORDS + 1) * size_of::<usize>()`. The
/// default, three words, fits a closure capturing an `Arc` and two integers.
///
/// [`Task::new`] builds the default `Task` (it needs no type annotation);
/// [`Task::from_closure`] builds any `Task<WORDS>`.
///
/// A closure that does not fit, or that needs more than `usize` alignment,
/// is **boxed** with the `alloc` feature (one allocation; the task then
/// holds the box's pointer), and rejected at **compile time** without it.
/// That check runs when the code is monomorphized, so `cargo check` does
/// not show it; `cargo build` does. Ask for more room with the `WORDS`
/// parameter to keep a larger closure inline:
///
/// ```
/// use taskring::Task;
///
/// let task = Task::new(|| println!("inline"));
/// assert!(!task.is_boxed());
/// task.run();
///
/// let big = [1u64; 8];
/// let task: Task<8> = Task::from_closure(move || assert_eq!(big.len(), 8));
/// assert!(!task.is_boxed());
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
    /// The stored value is a `Box` of the closure.
    boxed: bool,
}

/// Builds the [`VTable`] for closure type `F`.
struct VTableFor<F>(PhantomData<F>);

impl<F: FnOnce()> VTableFor<F> {
    const VTABLE: VTable = VTable {
        call: Self::call,
        drop: Self::drop,
        size: mem::size_of::<F>(),
        boxed: false,
    };

    #[cfg(feature = "alloc")]
    const BOXED: VTable = VTable {
        boxed: true,
        ..Self::VTABLE
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

impl Task {
    /// Wraps `f` in the default `Task` (three words): inline when it fits,
    /// boxed otherwise (see [`Task`]).
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
    /// let task = Task::new(move || {
    ///     h.fetch_add(a * b, Ordering::Relaxed);
    /// });
    /// task.run();
    /// assert_eq!(hits.load(Ordering::Relaxed), 6);
    /// ```
    pub fn new<F>(f: F) -> Self
    where
        F: FnOnce() + Send + 'static,
    {
        Self::from_closure(f)
    }
}

impl<const WORDS: usize> Task<WORDS> {
    /// True if a closure of type `F` is stored inline in a `Task<WORDS>`.
    pub const fn fits<F>() -> bool {
        mem::size_of::<F>() <= WORDS * mem::size_of::<usize>()
            && mem::align_of::<F>() <= mem::align_of::<usize>()
    }

    /// Wraps `f`: inline when it fits in `WORDS` words, boxed otherwise
    /// with the `alloc` feature, a compile-time error otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let big = [1u64; 8];
    /// let task = taskring::Task::<8>::from_closure(move || assert_eq!(big.len(), 8));
    /// task.run();
    /// ```
    pub fn from_closure<F>(f: F) -> Self
    where
        F: FnOnce() + Send + 'static,
    {
        if const { Self::fits::<F>() } {
            // SAFETY: `fits` holds for `F`.
            return unsafe { Self::inline_unchecked(f, &VTableFor::<F>::VTABLE) };
        }
        #[cfg(feature = "alloc")]
        {
            const {
                assert!(
                    Self::fits::<F>() || Self::fits::<alloc::boxed::Box<F>>(),
                    "taskring: a Task<0> cannot hold even a boxed closure",
                );
            }
            let boxed = alloc::boxed::Box::new(f);
            // SAFETY: The assertion above proves that a `Box<F>` fits.
            unsafe { Self::inline_unchecked(boxed, &VTableFor::<alloc::boxed::Box<F>>::BOXED) }
        }
        #[cfg(not(feature = "alloc"))]
        {
            const {
                assert!(
                    Self::fits::<F>(),
                    "taskring: closure too big for Task<WORDS> (or aligned more strictly than usize): capture less (e.g. one reference to the state), use a larger Task<WORDS>, or enable the `alloc` feature to box it",
                );
            }
            unreachable!()
        }
    }

    /// Stores `f` inline with `vtable`.
    ///
    /// # Safety
    ///
    /// `F` must fit in `WORDS` words with at most `usize` alignment
    /// ([`fits`](Self::fits)), and `vtable` must be one made for `F`.
    unsafe fn inline_unchecked<F>(f: F, vtable: &'static VTable) -> Self
    where
        F: FnOnce() + Send + 'static,
    {
        debug_assert!(Self::fits::<F>(), "this is a bug in taskring");
        let mut storage = MaybeUninit::<[usize; WORDS]>::uninit();
        // SAFETY: The caller guarantees that `F` fits in the storage and
        // that the storage (aligned for `usize`) is aligned for `F`. The
        // storage is fresh, so nothing is overwritten.
        unsafe { storage.as_mut_ptr().cast::<F>().write(f) };
        Self { vtable, storage }
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

    /// The size in bytes of what is stored inline: the closure's
    /// captures, or the pointer of its box.
    pub fn captures_size(&self) -> usize {
        self.vtable.size
    }

    /// True if the closure did not fit and was boxed.
    pub fn is_boxed(&self) -> bool {
        self.vtable.boxed
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
            .field("boxed", &self.vtable.boxed)
            .field("capacity", &(WORDS * mem::size_of::<usize>()))
            .finish()
    }
}
