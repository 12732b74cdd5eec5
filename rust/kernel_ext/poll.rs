// SPDX-License-Identifier: GPL-2.0-only
//! Readiness, both ways: a file of ours that answers `poll(2)`,
//! `select(2)` and epoll ([`PollQueue`], [`PollTable`]), and a module that
//! hears when another file (a pipe) may have become ready ([`Watcher`]),
//! the way epoll does: it polls the file once with a table of its own,
//! whose queueing function adds a wait entry with a wake function to the
//! file's wait queues.
//!
//! ```ignore
//! fn poll(&self, t: &PollTable) -> u32 {
//!     t.wait(&self.queue);           // queued until the next `wake()`
//!     self.mask()
//! }
//! let w = Watcher::new(file.try_clone()?, on_wake, cookie)?;
//! let mask = w.mask();                // the file's readiness now
//! ```

use core::cell::UnsafeCell;
use core::marker::PhantomPinned;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::Result,
    init::PinInit,
    pin_init,
    prelude::pin_data,
    types::Opaque,
};

use crate::kernel_ext::file::FdFile;

/// The lockdep class of every [`PollQueue`] (static, as lockdep wants).
struct Class(Opaque<bindings::lock_class_key>);
// SAFETY: `lock_class_key` is made for concurrent use; lockdep expects a
// static one left uninitialised.
unsafe impl Sync for Class {}
static CLASS: Class = Class(Opaque::uninit());

/// A wait queue that pollers of a file of ours wait on.
#[pin_data]
pub struct PollQueue {
    #[pin]
    head: Opaque<bindings::wait_queue_head>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: a `wait_queue_head` has its own lock; any thread may queue on
// it or wake it.
unsafe impl Send for PollQueue {}
// SAFETY: as above.
unsafe impl Sync for PollQueue {}

impl PollQueue {
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            _pin: PhantomPinned,
            // SAFETY: `slot` is valid while the closure runs; the name and
            // the class are static.
            head <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(slot, c"ssi_poll".as_ptr().cast(), CLASS.0.get())
            }),
        })
    }

    /// Wakes every poller and every [`PollQueue::sleep`]er (any context).
    pub fn wake(&self) {
        // SAFETY: an initialised head; `__wake_up` takes its lock, and
        // does not sleep. A null key wakes every entry whatever it waits for.
        unsafe {
            bindings::__wake_up(
                self.head.get(),
                bindings::TASK_NORMAL,
                0,
                core::ptr::null_mut(),
            )
        };
    }

    /// Sleeps (interruptibly) until `ready()`, a [`PollQueue::wake`], a
    /// `kthread_stop` or `ms` milliseconds; `ready()` is checked after
    /// the task is queued, so a wake-up between it and the sleep is not
    /// lost.
    pub fn sleep(&self, ms: u32, ready: impl Fn() -> bool) {
        let wait = Opaque::<bindings::wait_queue_entry>::uninit();
        // SAFETY: `wait` is valid memory on this stack frame, which
        // `finish_wait` takes off the queue before it ends.
        unsafe {
            bindings::init_wait(wait.get());
            bindings::prepare_to_wait(
                self.head.get(),
                wait.get(),
                bindings::TASK_INTERRUPTIBLE as c_int,
            );
        }
        if !ready() {
            // SAFETY: sleeping in process context with the state set above.
            unsafe { bindings::schedule_timeout(bindings::__msecs_to_jiffies(ms) as _) };
        }
        // SAFETY: as above.
        unsafe { bindings::finish_wait(self.head.get(), wait.get()) };
    }
}

/// The `poll_table` a `poll` method receives, with its file.
pub struct PollTable {
    file: *mut bindings::file,
    pt: *mut bindings::poll_table_struct,
}

impl PollTable {
    /// # Safety
    ///
    /// `file` and `pt` (null or valid) are a `poll` method's arguments,
    /// valid while this lives.
    pub(crate) unsafe fn from_raw(
        file: *mut bindings::file,
        pt: *mut bindings::poll_table_struct,
    ) -> Self {
        PollTable { file, pt }
    }

    /// The events the poller asked for (`poll_requested_events`): all
    /// for a bare poll.
    pub fn requested(&self) -> u32 {
        if self.pt.is_null() {
            return !0;
        }
        // SAFETY: by `from_raw`'s contract, a valid table.
        unsafe { (*self.pt)._key }
    }

    /// Queues the poller on `q` (`poll_wait`); nothing for a bare poll.
    /// The queue must live as long as the file (it is freed with it:
    /// select and poll hold a reference to the file, epoll forgets its
    /// entries before the file's release).
    pub fn wait(&self, q: &PollQueue) {
        // SAFETY: by `from_raw`'s contract; `q` is initialised and pinned.
        unsafe { bindings::poll_wait(self.file, q.head.get(), self.pt) };
    }
}

/// Most wait queues one file queues a poller on (a pipe: one per end, a
/// FIFO open for both: two).
const MAX_HEADS: usize = 2;

/// Hears another file's wake-ups: `wake(cookie)` runs (in the waker's
/// context, often atomic: it must only set flags and wake threads)
/// whenever the file's wait queues are woken, until this is dropped.
pub struct Watcher {
    inner: core::pin::Pin<KBox<Inner>>,
}

#[repr(C)]
struct Inner {
    /// First: the queueing function finds `Inner` from it.
    pt: UnsafeCell<bindings::poll_table_struct>,
    entries: [Opaque<bindings::wait_queue_entry>; MAX_HEADS],
    heads: UnsafeCell<[*mut bindings::wait_queue_head; MAX_HEADS]>,
    queued: AtomicUsize,
    wake: fn(u64),
    cookie: u64,
    file: FdFile,
    _pin: PhantomPinned,
}

// SAFETY: `pt` and `heads` are written only during `Watcher::new`'s poll
// (one thread) and read at the drop; the entries belong to the file's
// wait queues, which lock them; `file` is `Send + Sync`.
unsafe impl Send for Watcher {}
// SAFETY: as above; `&Watcher` only polls the file without a table.
unsafe impl Sync for Watcher {}

/// The queueing function of a [`Watcher`]'s table.
///
/// # Safety
///
/// Called by the file's `poll` method with the table of an `Inner`,
/// during `Watcher::new`.
unsafe extern "C" fn queue_proc(
    _file: *mut bindings::file,
    head: *mut bindings::wait_queue_head,
    pt: *mut bindings::poll_table_struct,
) {
    // SAFETY: `pt` is the first field of a `repr(C)` `Inner` (the only
    // table with this function), pinned in its box.
    let inner = unsafe { &*pt.cast::<Inner>() };
    let n = inner.queued.load(Ordering::Relaxed);
    if n >= MAX_HEADS {
        return;
    }
    let entry = inner.entries[n].get();
    // SAFETY: `entry` is pinned memory of `inner` not yet on any queue;
    // `heads` is written by this thread only (inside `Watcher::new`);
    // `head` is a live wait queue of the file, which `inner.file` keeps
    // open until the drop takes the entry off it.
    unsafe {
        bindings::init_waitqueue_func_entry(entry, Some(wake_func));
        (*entry).private = (inner as *const Inner).cast_mut().cast();
        (*inner.heads.get())[n] = head;
        bindings::add_wait_queue(head, entry);
    }
    inner.queued.store(n + 1, Ordering::Release);
}

/// The wake function of a [`Watcher`]'s entries.
///
/// # Safety
///
/// Called by `__wake_up` on an entry that `queue_proc` queued, under the
/// queue's lock (so before the drop's `remove_wait_queue` returns).
unsafe extern "C" fn wake_func(
    entry: *mut bindings::wait_queue_entry,
    _mode: c_uint,
    _flags: c_int,
    _key: *mut c_void,
) -> c_int {
    // SAFETY: `private` is the entry's `Inner`, alive while queued.
    let inner = unsafe { &*(*entry).private.cast::<Inner>() };
    (inner.wake)(inner.cookie);
    0
}

impl Watcher {
    /// Watches `file` from now on.
    pub fn new(file: FdFile, wake: fn(u64), cookie: u64) -> Result<Self> {
        let inner = KBox::pin(
            Inner {
                // SAFETY: all-zero is a valid table (no function, key 0),
                // set just below.
                pt: UnsafeCell::new(unsafe { core::mem::zeroed() }),
                entries: [const { Opaque::uninit() }; MAX_HEADS],
                heads: UnsafeCell::new([core::ptr::null_mut(); MAX_HEADS]),
                queued: AtomicUsize::new(0),
                wake,
                cookie,
                file,
                _pin: PhantomPinned,
            },
            GFP_KERNEL,
        )?;
        let pt = inner.pt.get();
        // SAFETY: `pt` is pinned in the box; the file's `poll` calls
        // `queue_proc` with it for each of its wait queues, then returns.
        unsafe {
            bindings::init_poll_funcptr(pt, Some(queue_proc));
            bindings::vfs_poll(inner.file.as_ptr(), pt);
        }
        Ok(Watcher { inner })
    }

    /// The file's poll mask now (`EPOLLIN`, ...).
    pub fn mask(&self) -> u32 {
        // SAFETY: an open file; a null table queues nothing.
        unsafe { bindings::vfs_poll(self.inner.file.as_ptr(), core::ptr::null_mut()) }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let n = self.inner.queued.load(Ordering::Acquire);
        for i in 0..n {
            // SAFETY: entry `i` was queued on `heads[i]` by `queue_proc`,
            // whose queue lives while `inner.file` (dropped after this)
            // keeps the file open; `remove_wait_queue` takes the queue's
            // lock, so no wake function runs on it once it returns.
            unsafe {
                bindings::remove_wait_queue(
                    (*self.inner.heads.get())[i],
                    self.inner.entries[i].get(),
                )
            };
        }
    }
}
