// SPDX-License-Identifier: GPL-2.0-only
//! Placement of new programs at `execve` (remote exec): with the shared
//! knob `exec_placement` on, each program that `execve()` starts here is
//! given to the policy in force (`ExecPlacer` in `rust/proto/src/sched.rs`),
//! in its own task, before it returns to user mode; if the policy names
//! another node, the ghost module migrates it there on that return
//! (`ssi_api::migrate` of the caller itself), where it starts with its
//! PID, parent, files and terminal as after any migration. Whatever
//! stops a migration stops this one, silently: the program runs here.

use core::sync::atomic::Ordering;
use kernel::{prelude::*, sync::Arc};

use crate::balance::{loads, local_load, Done};
use crate::cluster::{me, now_ns, State};
use crate::kernel_ext::{
    exec::{Exec, ExecRegistration},
    global::Published,
    hooks::PID_SHIFT,
    pid,
    task::{self, TaskRef},
};
use crate::proto::sched::{may_leave, Policy};
use crate::ssi_api;

/// The scheduler's state, for the kernel's call at `execve`.
static STATE: Published<State> = Published::new();

/// Where program `pid`, just started here by `execve`, runs: `None`
/// unless the knob is on, the policy places programs and the program may
/// leave. Stays (`me`) or another node.
fn choose(st: &State, pid: u32, ppid: u32, parent: bool) -> Option<u8> {
    let shared = st.settings();
    let s = shared.s;
    let me = me();
    if !s.exec_placement || s.policy == Policy::None || me == 0 {
        return None;
    }
    // Node-local processes (init, the guest agent, the console's shell)
    // and the programs they start themselves stay: a node's own commands
    // read that node. A parent stays with its children, as for the other
    // policies.
    if pid >> PID_SHIFT == 0 || ppid >> PID_SHIFT == 0 || parent {
        return None;
    }
    let retiring = st.retiring_until_ns.load(Ordering::Relaxed) > now_ns();
    let keep_home = st.keep_home.load(Ordering::Relaxed);
    if retiring || !may_leave(pid >> PID_SHIFT == u32::from(me), keep_home, retiring) {
        return None;
    }
    // Its `CAN_MIGRATE` (ghost checks it too, and everything else).
    if !TaskRef::get(pid).is_ok_and(|t| t.may_migrate()) {
        return None;
    }
    let (others, members) = loads(st, s.period_ms, s.drain).ok()?;
    let here = local_load(st);
    let node = st.exec.lock().place(
        now_ns() / 1_000_000,
        pid,
        &here,
        &others,
        &members,
        &s,
        pid::is_process,
    )?;
    // Placed for good: round robin's migration leaves it where it is put.
    let _ = st.local.lock().placed_at_exec(pid, now_ns());
    Some(node)
}

/// The kernel's call at `execve`.
struct Hook;

impl Exec for Hook {
    fn exec(ppid: u32, parent: bool) {
        let Some(st) = STATE.get() else { return };
        let pid = task::current_pid();
        let Some(node) = choose(st, pid, ppid, parent) else {
            return;
        };
        if node == me() {
            return;
        }
        let policy = st.policy();
        let ret = ssi_api::migrate(0, node);
        let errno = match ret {
            Ok(()) => {
                st.counts.exec_placed.fetch_add(1, Ordering::Relaxed);
                0
            }
            Err(e) => {
                st.counts.exec_failed.fetch_add(1, Ordering::Relaxed);
                e.to_errno()
            }
        };
        st.history.lock().push(Done {
            at_ms: now_ns() / 1_000_000,
            pid,
            node,
            policy: policy as u8,
            errno,
            exec: true,
            local: local_load(st).load,
            load: 0,
            ..Done::default()
        });
    }
}

/// The placement at `execve` while the module is loaded.
pub(crate) struct Placement {
    reg: Option<ExecRegistration<Hook>>,
}

impl Placement {
    pub(crate) fn start(module: &'static ThisModule, st: &Arc<State>) -> Result<Self> {
        STATE.publish(st);
        let mut p = Placement { reg: None };
        p.reg = Some(ExecRegistration::new(module)?);
        Ok(p)
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        self.reg = None;
        // SAFETY: unregistered: the kernel calls the hook no more, and no
        // call runs (each holds the module until it returns).
        unsafe { STATE.withdraw() };
    }
}
