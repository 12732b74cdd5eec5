// SPDX-License-Identifier: GPL-2.0-only
//! The stub: the original task left on the home node while its process
//! runs elsewhere. It keeps the parent link and the files, forwards
//! signals, ends with the process's exit status, or becomes the process
//! again when it comes back.

use super::*;

/// `SIG_DFL`, `SIG_IGN`, and the handler a stub takes instead of them
/// (never called: see `stub_loop`).
const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
const NEVER_RUN: u64 = 2;
const SIGCHLD: usize = 17;

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

/// Asks `at` whether it still runs `pid` (`WHERE`): `None` if it could
/// not tell (no answer).
fn ask(at: u8, pid: u32) -> Option<Result<Whereabouts>> {
    let mut b = [0u8; MAX_SMALL];
    let n = Msg::Where { pid }.encode(&mut b);
    let mut resp = [0u8; wire::ENDED_LEN];
    match ssi_api::call_killable(at, SERVICE, &b[..n], &mut resp, CALL_TIMEOUT_MS) {
        Ok(got) => Some(resp.get(..got).and_then(wire::decode_where).ok_or(EINVAL)),
        Err(e) if e == ESRCH => Some(Err(e)),
        Err(_) => None,
    }
}

/// Returns the wait status to end with, or `None` when the process is
/// back in this task (restored) or killed here.
fn stub_loop(m: &Migrator, pid: u32) -> Option<u32> {
    // Its memory goes once the destination has every page it lent.
    let mut shrunk = false;
    // Since when the node it runs on is out of the view (or could not
    // say whether it still runs it), and how many times it had left.
    let mut lost: Option<kernel::time::Ktime> = None;
    let mut seen_left = left(m.stub_at(pid)?);
    // When it last asked (or started) while its node was in the view.
    let mut checked = kernel::time::Ktime::ktime_get();
    // Every signal must reach the stub, to be sent on: nothing blocked,
    // and none left default or ignored here. A default fatal one ends a
    // process as it is sent (the kernel's shortcut), so the stub would
    // die of it instead of sending it on, and an ignored one is dropped
    // as it is sent; the process may have handlers where it runs that it
    // had not here (one placed at `execve` has none yet). The stub never
    // runs a handler: it does not return to user mode as a stub, and its
    // process's handlers come back with it.
    if let Ok(mut s) = signal::new_signals() {
        signal::signals(&mut s);
        s.blocked = 0;
        for (k, a) in s.action.iter_mut().enumerate() {
            // SIGCHLD's disposition says how the stub's own children (if
            // any) are reaped: it stays.
            if k + 1 == SIGCHLD {
                continue;
            }
            if a.handler == SIG_DFL || a.handler == SIG_IGN {
                a.handler = NEVER_RUN;
                a.flags = 0;
            }
        }
        signal::set_signals(&s);
    }
    loop {
        if !shrunk && !crate::lazy::lending(pid) {
            shrink();
            shrunk = true;
        }
        let at = m.stub_at(pid)?;
        if km::killed() {
            // Recorded first: a `MOVED` from `at` sends the kill on.
            remember(&mut m.state.lock().killed, pid, at);
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
        if let Some((mig, origin, c, hops)) = st.back.take() {
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
                    m.arrived(pid, me(), origin, hops);
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
        drop(s);
        // A node that left the view may come back: a link lost for longer
        // than TIPC's tolerance drops a node that still runs the process.
        // Once back, it says whether it does (a rebooted node does not).
        let now_left = left(at);
        if !member(at) || lost.is_some() || now_left != seen_left {
            let t = *lost.get_or_insert_with(|| {
                pr_info!(
                    "pid {}: node {} left the view, asking it when back\n",
                    pid,
                    at
                );
                kernel::time::Ktime::ktime_get()
            });
            let answer = if member(at) { ask(at, pid) } else { None };
            match answer {
                Some(Ok(Whereabouts::Here)) => {
                    pr_info!("pid {}: still runs on node {}\n", pid, at);
                    (lost, seen_left) = (None, now_left);
                }
                Some(Ok(Whereabouts::Ended(status))) => return Some(status),
                Some(Ok(Whereabouts::Went(node))) => {
                    let mut s = m.state.lock();
                    let st = s.stubs.iter_mut().find(|x| x.pid == pid)?;
                    if st.at == at {
                        m.went(st, node);
                    }
                    drop(s);
                    moved(pid, node);
                    (lost, seen_left) = (None, left(node));
                    continue;
                }
                Some(Err(_)) => {
                    pr_warn!("pid {} lost with node {}\n", pid, at);
                    return Some(KILLED);
                }
                None if (kernel::time::Ktime::ktime_get() - t).to_ms() > LOST_GRACE_MS => {
                    pr_warn!("pid {} lost with node {}\n", pid, at);
                    return Some(KILLED);
                }
                None => {}
            }
        }
        if lost.is_none() && (kernel::time::Ktime::ktime_get() - checked).to_ms() > STUB_CHECK_MS {
            checked = kernel::time::Ktime::ktime_get();
            match ask(at, pid) {
                Some(Ok(Whereabouts::Ended(status))) => {
                    pr_info!("pid {}: ended on node {} (its EXIT was lost)\n", pid, at);
                    m.counts.news_asked.fetch_add(1, Ordering::Relaxed);
                    return Some(status);
                }
                Some(Ok(Whereabouts::Went(node))) => {
                    let mut s = m.state.lock();
                    let st = s.stubs.iter_mut().find(|x| x.pid == pid)?;
                    if st.at == at {
                        pr_info!("pid {}: went to node {} (its MOVED was lost)\n", pid, node);
                        m.counts.news_asked.fetch_add(1, Ordering::Relaxed);
                        m.went(st, node);
                    }
                    drop(s);
                    moved(pid, node);
                    seen_left = left(node);
                    continue;
                }
                // Still there, in flight, or no answer: the messages or
                // the lost-node path above tell.
                _ => {}
            }
        }
        let mut s = m.state.lock();
        let wait = if lost.is_some() { 200 } else { 1000 };
        let _ = m
            .changed
            .wait_interruptible_timeout(&mut s, msecs_to_jiffies(wait));
    }
}
