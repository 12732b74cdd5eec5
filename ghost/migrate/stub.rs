// SPDX-License-Identifier: GPL-2.0-only
//! The stub: the original task left on the home node while its process
//! runs elsewhere. It keeps the parent link and the files, forwards
//! signals, ends with the process's exit status, or becomes the process
//! again when it comes back.

use super::*;

/// Frees the stub's memory but the area of its arguments and environment
/// (its `/proc` files keep showing them).
fn shrink() {
    let Some(m) = Mm::current() else {
        return;
    };
    let l = m.layout();
    let mut path = [0u8; 1];
    let keep = m.vma_from(l.arg_start, &mut path).ok().flatten();
    drop(m);
    match keep {
        Some(v) if v.start <= l.arg_start => {
            let _ = mm::unmap(0, v.start);
            let _ = mm::unmap(v.end, TASK_SIZE);
        }
        _ => {
            let _ = mm::unmap(0, TASK_SIZE);
        }
    }
}

/// The stub of `pid`, in the original task on its home node, for as long
/// as the process runs elsewhere.
pub(super) fn stub_main(pid: u32) {
    let Some(m) = get() else {
        return;
    };
    if m.stub_at(pid).is_none() {
        return;
    }
    m.stubs_running.fetch_add(1, Ordering::AcqRel);
    // `/proc` shows the process as the node that runs it does.
    km::set_part(km::Part::Stub, true);
    let end = stub_loop(m, pid);
    km::set_part(km::Part::Stub, false);
    vec::retain(&mut m.state.lock().stubs, |s| s.pid != pid);
    moved(pid, 0);
    m.changed.notify_all();
    // Last use of `m`: an unload waits for this, then frees it.
    m.stubs_running.fetch_sub(1, Ordering::AcqRel);
    if let Some(status) = end {
        km::exit(status);
    }
}

/// Returns the wait status to end with, or `None` when the process is
/// back in this task (restored) or killed here.
fn stub_loop(m: &Migrator, pid: u32) -> Option<u32> {
    // Its memory goes once the destination has every page it lent.
    let mut shrunk = false;
    // Every signal must wake the stub: nothing blocked.
    if let Ok(mut s) = signal::new_signals() {
        signal::signals(&mut s);
        s.blocked = 0;
        signal::set_signals(&s);
    }
    loop {
        if !shrunk && !crate::lazy::lending(pid) {
            shrink();
            shrunk = true;
        }
        let at = m.stub_at(pid)?;
        if km::killed() {
            send(at, Msg::Signal { pid, sig: KILLED });
            return None;
        }
        while let Some(sig) = km::next_signal() {
            send(at, Msg::Signal { pid, sig });
        }
        let mut s = m.state.lock();
        if s.closing {
            // The module goes: the process would have no home any more
            // (nothing to report its end to, forward its signals, serve
            // its files), so it ends where it runs, and so does the stub.
            drop(s);
            send(at, Msg::Signal { pid, sig: KILLED });
            return Some(KILLED);
        }
        let st = s.stubs.iter_mut().find(|x| x.pid == pid)?;
        if let Some(status) = st.exit {
            return Some(status);
        }
        if let Some((mig, origin, c)) = st.back.take() {
            drop(s);
            let mut a = RestoreArg {
                fd: -1,
                dev_fd: -1,
                node: 0,
                reason: Reason::None,
                detail: 0,
            };
            match restore::restore(
                Stream::Mem(&c),
                Purpose::Migration,
                Some((origin, mig)),
                &mut a,
            ) {
                Ok(_) => {
                    // Signals that reach `origin` late come back here.
                    remember(&mut m.state.lock().back, pid, origin);
                    send(origin, result_msg_ok(mig));
                    return None;
                }
                Err(e) => {
                    send(origin, result_msg(mig, e, a.reason, a.detail));
                    continue;
                }
            }
        }
        if !member(at) {
            pr_warn!("pid {} lost with node {}\n", pid, at);
            return Some(KILLED);
        }
        let _ = m
            .changed
            .wait_interruptible_timeout(&mut s, msecs_to_jiffies(1000));
    }
}
