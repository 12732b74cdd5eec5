// SPDX-License-Identifier: GPL-2.0-only
//! The worker threads: serve the requests that may block (they read other
//! processes' memory, `/proc` files or devices) in arrival order, so that
//! the receive thread never waits on them. The shared worker serves the
//! core's own and the deferred services; the lane serves only the
//! services registered for it (`ssi_rpc_register_lane`), so that they
//! never wait behind the others.

use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
};

use crate::cluster::Core;
use crate::proto::wire::{self, Header, Kind};

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

    /// Appends `job`; gives it back if `QUEUE` jobs wait already and it
    /// is not `unbounded`, or if there is no memory to grow.
    fn push(&mut self, job: Job, unbounded: bool) -> core::result::Result<(), Job> {
        if self.len >= QUEUE && !unbounded {
            return Err(job);
        }
        if self.len == self.slots.len() && self.grow().is_err() {
            return Err(job);
        }
        let tail = (self.head + self.len) % self.slots.len();
        self.slots[tail] = Some(job);
        self.len += 1;
        Ok(())
    }

    /// Doubles the ring, keeping the order.
    fn grow(&mut self) -> Result {
        let n = self.slots.len();
        let mut slots = KVec::with_capacity(2 * n, GFP_KERNEL)?;
        for k in 0..2 * n {
            let job = if k < n {
                self.slots[(self.head + k) % n].take()
            } else {
                None
            };
            slots.push(job, GFP_KERNEL)?;
        }
        self.slots = slots;
        self.head = 0;
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

/// The second worker thread's queue, its wake-up, and the mutex held while
/// it runs a handler (unregistering waits for it).
#[pin_data]
pub(crate) struct Lane {
    #[pin]
    pub(crate) jobs: Mutex<Queue>,
    #[pin]
    pub(crate) ready: CondVar,
    #[pin]
    pub(crate) run: Mutex<()>,
}

impl Lane {
    pub(crate) fn new(jobs: Queue) -> impl PinInit<Self> {
        pin_init!(Lane {
            jobs <- new_mutex!(jobs),
            ready <- new_condvar!(),
            run <- new_mutex!(()),
        })
    }
}

/// Whether `service` was registered for the lane.
fn on_lane(core: &Core, service: u16) -> bool {
    core.services
        .lock()
        .iter()
        .any(|e| e.service == service && e.lane)
}

/// Whether `h` is a flow-controlled one-way message: credited to its
/// sender only once a worker handled it.
fn flow_controlled(h: &Header) -> bool {
    h.kind == Kind::Oneway && h.id != 0
}

/// Hands request `h` over to its worker (receive thread): the lane for a
/// lane service, else the shared worker. A full queue answers `EBUSY` to
/// a request; flow-controlled one-way messages are not limited by it
/// (their senders' windows are), and a failure to queue one (no memory)
/// drops and counts it.
pub(crate) fn defer(core: &Core, h: &Header, payload: &[u8]) {
    let mut copy = KVec::new();
    let job = match copy.extend_from_slice(payload, GFP_KERNEL) {
        Ok(()) => Job {
            header: *h,
            payload: copy,
        },
        Err(_) => return crate::rpc::refuse(core, h, ENOMEM),
    };
    let (jobs, ready) = if on_lane(core, h.service) {
        (&core.lane.jobs, &core.lane.ready)
    } else {
        (&core.jobs, &core.jobs_ready)
    };
    let held = flow_controlled(h);
    if held {
        crate::flow::hold(core, h.src);
    }
    if jobs.lock().push(job, held).is_err() {
        if held {
            crate::flow::release(core, h.src);
        }
        return crate::rpc::refuse(core, h, EBUSY);
    }
    ready.notify_one();
}

/// The shared worker thread's body.
pub(crate) fn run(core: Arc<Core>) {
    serve(
        &core,
        &core.jobs,
        &core.jobs_ready,
        crate::rpc::serve_deferred,
    );
}

/// The lane's body.
pub(crate) fn run_lane(core: Arc<Core>) {
    serve(
        &core,
        &core.lane.jobs,
        &core.lane.ready,
        crate::rpc::serve_lane,
    );
}

/// Serves the jobs of `jobs` with `f` until the core closes.
fn serve(
    core: &Core,
    jobs: &Mutex<Queue>,
    ready: &CondVar,
    f: fn(&Core, &Header, &[u8], &mut [u8]),
) {
    let Ok(mut scratch) = KVec::from_elem(0u8, wire::MAX_PAYLOAD, GFP_KERNEL) else {
        pr_err!("no memory for the worker's buffer\n");
        return;
    };
    while !core.closing() {
        let job = {
            let mut q = jobs.lock();
            match q.pop() {
                Some(job) => job,
                None => {
                    // Woken by `defer` or `Core::close`; the timeout only
                    // bounds a missed wake-up.
                    let _ = ready.wait_interruptible_timeout(&mut q, msecs_to_jiffies(100));
                    continue;
                }
            }
        };
        f(core, &job.header, &job.payload, &mut scratch);
        if flow_controlled(&job.header) {
            crate::flow::release(core, job.header.src);
        }
    }
    // Requests left behind get no answer: their callers time out.
}
