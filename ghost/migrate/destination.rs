// SPDX-License-Identifier: GPL-2.0-only
//! The destination: a kernel thread per arriving process starts the
//! loader with its PID, which becomes the process (`RESTORE_MIGRATED`);
//! the thread reaps it and reports its end home.

use super::*;

/// Starts the processes whose streams arrived, one waiter thread each.
pub(super) fn worker(m: &'static Migrator) {
    loop {
        let mut s = m.state.lock();
        // Reap the waiters that are done.
        let mut k = 0;
        while k < s.waiters.len() {
            if s.waiters[k].1.load(Ordering::Acquire) != 0 {
                let w = vec::swap_remove(&mut s.waiters, k);
                drop(s);
                drop(w);
                s = m.state.lock();
            } else {
                k += 1;
            }
        }
        if kthread::should_stop() {
            return;
        }
        drop(s);
        crate::lazy::tick(member);
        m.expire();
        s = m.state.lock();
        let Some(mig) = vec::swap_remove(&mut s.queue, 0) else {
            let _ = m
                .changed
                .wait_interruptible_timeout(&mut s, msecs_to_jiffies(200));
            continue;
        };
        let Some(i) = s.incoming.iter().find(|i| i.mig == mig) else {
            continue;
        };
        let (pid, home, origin) = (i.pid, i.home, i.origin);
        let done = match Arc::new(AtomicUsize::new(0), GFP_KERNEL) {
            Ok(d) => d,
            Err(_) => {
                vec::retain(&mut s.incoming, |i| i.mig != mig);
                drop(s);
                send(origin, result_msg(mig, ENOMEM, Reason::None, 0));
                continue;
            }
        };
        if s.guests
            .push(
                Guest {
                    pid,
                    home,
                    origin,
                    mig,
                    ppid: 0,
                    running: false,
                    silent: false,
                },
                GFP_KERNEL,
            )
            .is_err()
        {
            vec::retain(&mut s.incoming, |i| i.mig != mig);
            drop(s);
            send(origin, result_msg(mig, ENOMEM, Reason::None, 0));
            continue;
        }
        drop(s);
        let d2 = done.clone();
        match KThread::spawn(c_str!("ssi_ghost_wait"), move || {
            guest_life(m, pid, mig, origin);
            d2.store(1, Ordering::Release);
        }) {
            Ok(t) => {
                let mut s = m.state.lock();
                if s.waiters.push((t, done), GFP_KERNEL).is_err() {
                    pr_err!("waiter of pid {} not kept\n", pid);
                }
            }
            Err(e) => {
                let mut s = m.state.lock();
                vec::retain(&mut s.guests, |g| g.pid != pid);
                vec::retain(&mut s.incoming, |i| i.mig != mig);
                drop(s);
                send(origin, result_msg(mig, e, Reason::None, 0));
            }
        }
    }
}

/// A guest's life on this node, in its waiter thread: start the loader
/// with its PID, wait for its end, report it home.
fn guest_life(m: &'static Migrator, pid: u32, mig: u64, origin: u8) {
    if let Err(e) = km::spawn(pid, LOADER, LOADER_ARG) {
        pr_warn!("pid {} arriving from node {}: {:?}\n", pid, origin, e);
        let mut s = m.state.lock();
        vec::retain(&mut s.guests, |g| g.pid != pid);
        vec::retain(&mut s.incoming, |i| i.mig != mig);
        drop(s);
        send(origin, result_msg(mig, e, Reason::None, 0));
        return;
    }
    let status = km::wait(pid).unwrap_or(KILLED);
    let mut s = m.state.lock();
    // A loader that ended before it took its stream never told the origin.
    let untaken = s.incoming.iter().any(|i| i.mig == mig);
    vec::retain(&mut s.incoming, |i| i.mig != mig);
    let g = s
        .guests
        .iter()
        .position(|g| g.pid == pid && g.mig == mig)
        .and_then(|k| vec::swap_remove(&mut s.guests, k));
    drop(s);
    if untaken {
        send(origin, result_msg(mig, ENOEXEC, Reason::None, 0));
    }
    if let Some(g) = g {
        if g.running && !g.silent && g.home != me() {
            // Kept first: the `EXIT` may be lost with the link, and the
            // home then asks.
            m.keep_fate(pid, g.home, Whereabouts::Ended(status));
            send(g.home, Msg::Exit { pid, status });
        }
    }
}

/// `RESTORE_MIGRATED`: the loader with a guest's PID becomes the process.
pub(crate) fn restore_migrated(a: &mut RestoreArg) -> Result {
    let m = get().ok_or_else(crate::kernel_ext::errno::eshutdown)?;
    let pid = task::current_pid();
    let (mig, origin, home, hops, stream) = {
        let mut s = m.state.lock();
        if !s.guests.iter().any(|g| g.pid == pid && !g.running) {
            return Err(ENOENT);
        }
        let k = s
            .incoming
            .iter()
            .position(|i| i.pid == pid && i.go)
            .ok_or(ENOENT)?;
        let i = vec::swap_remove(&mut s.incoming, k).ok_or(ENOENT)?;
        (i.mig, i.origin, i.home, i.hops, i.stream.ok_or(ENOENT)?)
    };
    let ret = restore::restore(
        Stream::Mem(&stream),
        Purpose::Migration,
        Some((origin, mig)),
        a,
    );
    drop(stream);
    match ret {
        Ok(ppid) => {
            let mut s = m.state.lock();
            if let Some(g) = s.guests.iter_mut().find(|g| g.pid == pid) {
                g.running = true;
                g.ppid = ppid;
            }
            drop(s);
            m.arrived(pid, home, origin, hops);
            // Its local parent is the waiter thread: getppid() asks `Guests`.
            km::set_part(km::Part::Guest, true);
            crate::kernel_ext::file::close_fd(a.dev_fd);
            send(origin, result_msg_ok(mig));
            Ok(())
        }
        Err(e) => {
            send(origin, result_msg(mig, e, a.reason, a.detail));
            Err(e)
        }
    }
}
