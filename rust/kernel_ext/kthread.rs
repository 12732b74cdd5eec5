// SPDX-License-Identifier: GPL-2.0-only
//! Kernel threads that are stopped and reaped on drop.

use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{Error, Result},
    ffi::{c_int, c_void},
    str::CStr,
};

/// A running kernel thread; dropping it calls `kthread_stop` and waits.
///
/// The body should return once [`should_stop`] is true, and must not sleep
/// uninterruptibly on something only its owner can end.
///
/// # Invariants
///
/// `task` is a kthread created by `spawn` on which this struct
/// holds a task reference; `data` is the `KBox<Option<F>>` its body came
/// from, freed by `free` once the thread is stopped.
pub struct KThread {
    task: *mut bindings::task_struct,
    data: *mut c_void,
    free: unsafe fn(*mut c_void),
}

/// Frees the body's box, running the drop of a body that never ran.
///
/// # Safety
///
/// `data` must be the box leaked by `spawn::<F>`, whose thread has exited.
unsafe fn free_body<F>(data: *mut c_void) {
    // SAFETY: guaranteed by the caller.
    drop(unsafe { KBox::from_raw(data.cast::<Option<F>>()) });
}

// SAFETY: the task pointer is only used for `kthread_stop_put`, which may be
// called from any thread.
unsafe impl Send for KThread {}
// SAFETY: `&KThread` offers no operation.
unsafe impl Sync for KThread {}

/// The thread function of [`KThread::spawn`].
///
/// # Safety
///
/// `data` must be the `KBox<Option<F>>` that `spawn` leaked, used by no one
/// else until the thread is stopped.
unsafe extern "C" fn trampoline<F: FnOnce() + Send + 'static>(data: *mut c_void) -> c_int {
    // kthread() may skip this function if stopped first: `drop` then frees
    // the body unrun.
    // SAFETY: `data` is the `KBox<Option<F>>` leaked by `spawn`; only this
    // thread touches it until `KThread::drop` has stopped the thread.
    let body = unsafe { &mut *data.cast::<Option<F>>() };
    if let Some(f) = body.take() {
        f();
    }
    // kthread_stop() may only be called on a thread that has not exited:
    // wait for it.
    while !should_stop() {
        // SAFETY: sleeps in the thread's own context; `kthread_stop` wakes it.
        unsafe {
            bindings::schedule_timeout_interruptible(kernel::time::msecs_to_jiffies(100) as _)
        };
    }
    0
}

impl KThread {
    /// Starts `body` in a new kernel thread named `name`.
    pub fn spawn<F: FnOnce() + Send + 'static>(name: &CStr, body: F) -> Result<Self> {
        let data = KBox::into_raw(KBox::new(Some(body), GFP_KERNEL)?);
        // SAFETY: `trampoline::<F>` takes ownership of `data`; the format
        // string and `name` are NUL-terminated and copied by the call.
        let task = unsafe {
            bindings::kthread_create_on_node(
                Some(trampoline::<F>),
                data.cast(),
                bindings::NUMA_NO_NODE,
                kernel::c_str!("%s").as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        if let Some(err) = err_ptr(task) {
            // SAFETY: the thread was not created, so `data` is still ours.
            drop(unsafe { KBox::from_raw(data) });
            return Err(err);
        }
        // SAFETY: `task` is a valid, not yet running kthread.
        unsafe {
            bindings::get_task_struct(task);
            bindings::wake_up_process(task);
        }
        // INVARIANT: a kthread with a reference held, and its body's box.
        Ok(Self {
            task,
            data: data.cast(),
            free: free_body::<F>,
        })
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        // SAFETY: by the type invariant; the trampoline never exits before
        // `kthread_stop`, which this call performs before dropping the ref.
        unsafe { bindings::kthread_stop_put(self.task) };
        // SAFETY: the thread has exited, so nothing else uses the body.
        unsafe { (self.free)(self.data) };
    }
}

/// Whether the current kthread has been asked to stop.
pub fn should_stop() -> bool {
    // SAFETY: only meaningful from a kthread, which all callers are.
    unsafe { bindings::kthread_should_stop() }
}

fn err_ptr<T>(ptr: *mut T) -> Option<Error> {
    let v = ptr as isize;
    if (-4095..0).contains(&v) {
        Some(Error::from_errno(v as i32))
    } else {
        None
    }
}

/// Sleeps up to `ms` milliseconds; returns early when woken (`kthread_stop`).
pub fn sleep_ms(ms: u32) {
    // SAFETY: sleeping in process context.
    unsafe { bindings::schedule_timeout_interruptible(kernel::time::msecs_to_jiffies(ms) as _) };
}

/// Whether the current task has a signal pending (a sleep of [`sleep_ms`]
/// ends early then).
pub fn signal_pending() -> bool {
    kernel::current!().signal_pending()
}

/// A random 64-bit value (`get_random_u64`).
pub fn random_u64() -> u64 {
    // SAFETY: no preconditions.
    unsafe { kernel::bindings::get_random_u64() }
}
