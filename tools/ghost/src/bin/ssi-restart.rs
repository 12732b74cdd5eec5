// SPDX-License-Identifier: GPL-2.0-only
//! ssi-restart FILE [NODE]: restart the process checkpointed in FILE on
//! this node with its PID (free while the original is gone: PIDs are
//! global), or restart it here and send it on to NODE before it runs (it
//! runs there, its stub here). The process becomes a child of ssi-restart,
//! and ssi-restart exits with its status.

use ssi_ghost_tools::*;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::exit;

fn fail(msg: String) -> ! {
    eprintln!("ssi-restart: {msg}");
    exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 1 && args[0] == "--migrated" {
        migrated();
    }
    let (file, node) = match &args[..] {
        [file] => (file, 0u32),
        [file, node] => match node.parse::<u32>() {
            Ok(n) if n > 0 => (file, n),
            _ => {
                eprintln!("usage: ssi-restart FILE [NODE]");
                exit(2)
            }
        },
        _ => {
            eprintln!("usage: ssi-restart FILE [NODE]");
            exit(2)
        }
    };
    let mut f = File::open(file).unwrap_or_else(|e| fail(format!("{file}: {e}")));
    let mut h = [0u8; 16];
    if f.read_exact(&mut h).is_err() || &h[..8] != b"SSIGHOST" {
        fail(format!("{file}: not a checkpoint (bad header)"));
    }
    let pid = u32::from_le_bytes(h[12..16].try_into().unwrap()) & 0x00ff_ffff;
    if Path::new(&format!("/proc/{pid}")).exists() {
        fail(format!(
            "PID {pid} is in use in the cluster (is the original still running?)"
        ));
    }
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open(DEVICE)
        .unwrap_or_else(|e| fail(format!("{DEVICE}: {e} (is ssi_ghost.ko loaded?)")));
    // Where the child reports a refused restart: its own memory is gone
    // once the restart succeeds.
    // SAFETY: a new shared anonymous page; no pointer is passed in.
    let page = unsafe { syscall(SYS_MMAP, [0, 4096, 3, 0x21, usize::MAX, 0]) };
    let page = check(page).unwrap_or_else(|e| fail(format!("mmap: {e}"))) as *mut u8;
    // Signals sent to the PID while it is being restored wait until the
    // restore installed the ghost's handlers and mask: the child starts
    // with every signal blocked (SIGKILL and SIGSTOP excepted).
    let old = block_all_signals().unwrap_or_else(|e| fail(format!("sigprocmask: {e}")));
    let tid: [u64; 1] = [u64::from(pid)];
    let mut cargs = [0u64; 11];
    cargs[4] = 17; // exit_signal: SIGCHLD
    cargs[8] = tid.as_ptr() as u64; // set_tid
    cargs[9] = 1; // set_tid_size
                  // SAFETY: `cargs` is a `struct clone_args` (88 bytes) that outlives the
                  // call; without CLONE_VM the child gets a copy of this address space
                  // (fork semantics).
    let ret = unsafe { syscall(SYS_CLONE3, [cargs.as_ptr() as usize, 88, 0, 0, 0, 0]) };
    match check(ret) {
        Err(e) if e.raw_os_error() == Some(17) => fail(format!("PID {pid} is in use on this node")),
        Err(e) if e.raw_os_error() == Some(1) => fail(format!(
            "cannot create PID {pid}: {e} (needs CAP_CHECKPOINT_RESTORE: run as root)"
        )),
        Err(e) => fail(format!("clone3 with PID {pid}: {e}")),
        Ok(0) => {
            let mut arg = RestoreArg {
                fd: f.as_raw_fd(),
                dev_fd: dev.as_raw_fd(),
                node,
                reason: Reason::None,
                detail: 0,
            }
            .encode();
            let ret = ioctl(dev.as_raw_fd(), IOC_RESTORE_SELF, &mut arg);
            // Only a refused restart comes back here: the result, then the
            // argument block as the kernel left it.
            // SAFETY: `page` is the shared page mapped above, 4096 bytes.
            unsafe {
                let out = core::slice::from_raw_parts_mut(page, 8 + RestoreArg::LEN);
                out[0..8].copy_from_slice(&(ret as i64).to_le_bytes());
                out[8..].copy_from_slice(&arg);
                syscall(SYS_EXIT_GROUP, [127, 0, 0, 0, 0, 0]);
            }
            unreachable!()
        }
        Ok(child) => {
            let _ = set_signal_mask(old);
            let mut status: i32 = 0;
            loop {
                // SAFETY: `status` is writable.
                let r = unsafe {
                    syscall(
                        SYS_WAIT4,
                        [child, &mut status as *mut i32 as usize, 0, 0, 0, 0],
                    )
                };
                if r != -4 {
                    break;
                }
            }
            // SAFETY: the shared page, written by the child before it exited.
            let rep = unsafe { core::slice::from_raw_parts(page, 8 + RestoreArg::LEN) };
            let err = i64::from_le_bytes(rep[0..8].try_into().unwrap());
            if err < 0 {
                let e = std::io::Error::from_raw_os_error(-err as i32);
                let a = RestoreArg::decode(rep[8..].try_into().unwrap());
                let why = reason_text(a.reason, a.detail);
                if why.is_empty() {
                    fail(format!("cannot restart PID {pid}: {e}"));
                }
                fail(format!("cannot restart PID {pid}: {why} ({e})"));
            }
            if status & 0x7f == 0 {
                exit((status >> 8) & 0xff);
            }
            eprintln!("ssi-restart: PID {pid} killed by signal {}", status & 0x7f);
            exit(128 + (status & 0x7f));
        }
    }
}

/// `--migrated`: started by the kernel with the PID of a process migrating
/// here, become it. Returns only on failure (the origin is told why and
/// the process goes on there).
fn migrated() -> ! {
    // Signals wait for the ghost's handlers and mask.
    let _ = block_all_signals();
    let Ok(dev) = OpenOptions::new().read(true).write(true).open(DEVICE) else {
        exit(1)
    };
    let fd = dev.as_raw_fd();
    let mut arg = RestoreArg {
        fd: -1,
        dev_fd: fd,
        node: 0,
        reason: Reason::None,
        detail: 0,
    }
    .encode();
    let _ = ioctl(fd, IOC_RESTORE_MIGRATED, &mut arg);
    exit(1)
}
