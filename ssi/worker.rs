// SPDX-License-Identifier: GPL-2.0-only
//! The worker thread: serves the requests that may block (they read other
//! processes' memory, `/proc` files or devices) in arrival order, so that
//! the receive thread never waits on them.

use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
    sync::Arc,
    time::msecs_to_jiffies,
};

use crate::cluster::Core;
use crate::proto::wire::{self, Header};

/// Requests waiting for the worker, at most.
pub(crate) const QUEUE: usize = 256;

/// A request the receive thread handed over.
pub(crate) struct Job {
    pub(crate) header: Header,
    pub(crate) payload: KVec<u8>,
}

/// A ring of jobs.
///
/// # Invariants
///
/// `len <= slots.len()`; the `len` slots from `head` on (mod
/// `slots.len()`) are `Some`, the others `None`.
pub(crate) struct Queue {
    slots: KVec<Option<Job>>,
    head: usize,
    len: usize,
}

impl Queue {
    pub(crate) fn new() -> Result<Self> {
        let mut slots = KVec::with_capacity(QUEUE, GFP_KERNEL)?;
        for _ in 0..QUEUE {
            slots.push(None, GFP_KERNEL)?;
        }
        Ok(Queue {
            slots,
            head: 0,
            len: 0,
        })
    }

    /// Appends `job`; gives it back if the queue is full.
    fn push(&mut self, job: Job) -> core::result::Result<(), Job> {
        if self.len == self.slots.len() {
            return Err(job);
        }
        let tail = (self.head + self.len) % self.slots.len();
        self.slots[tail] = Some(job);
        self.len += 1;
        Ok(())
    }

    fn pop(&mut self) -> Option<Job> {
        if self.len == 0 {
            return None;
        }
        let job = self.slots[self.head].take();
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        job
    }
}

/// Hands request `h` over to the worker (receive thread). A full queue
/// answers `EBUSY` to a request and drops a one-way message.
pub(crate) fn defer(core: &Core, h: &Header, payload: &[u8]) {
    let mut copy = KVec::new();
    let job = match copy.extend_from_slice(payload, GFP_KERNEL) {
        Ok(()) => Job {
            header: *h,
            payload: copy,
        },
        Err(_) => return crate::rpc::refuse(core, h, ENOMEM),
    };
    if core.jobs.lock().push(job).is_err() {
        return crate::rpc::refuse(core, h, EBUSY);
    }
    core.jobs_ready.notify_one();
}

/// The worker thread's body.
pub(crate) fn run(core: Arc<Core>) {
    let Ok(mut scratch) = KVec::from_elem(0u8, wire::MAX_PAYLOAD, GFP_KERNEL) else {
        pr_err!("no memory for the worker's buffer\n");
        return;
    };
    while !core.closing() {
        let job = {
            let mut q = core.jobs.lock();
            match q.pop() {
                Some(job) => job,
                None => {
                    // Woken by `defer` or `Core::close`; the timeout only
                    // bounds a missed wake-up.
                    let _ = core
                        .jobs_ready
                        .wait_interruptible_timeout(&mut q, msecs_to_jiffies(100));
                    continue;
                }
            }
        };
        crate::rpc::serve_deferred(&core, &job.header, &job.payload, &mut scratch);
    }
    // Requests left behind get no answer: their callers time out.
}
