// SPDX-License-Identifier: GPL-2.0-only
//! ssi-getfd [-r|-w] NODE PID FD [--as N] CMD ARGS...: run CMD with fd N
//! (default FD) being fd FD of process PID on node NODE, through remote
//! file access (as pidfd_getfd() across nodes; root only). Reads, writes
//! and seeks on it act on the process's own open file there: its shared
//! offset, O_APPEND. It has the file's access mode, or read-only or
//! write-only with -r/-w.

use ssi_ghost_tools::*;
use std::fs::OpenOptions;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{exit, Command};

fn usage() -> ! {
    eprintln!("usage: ssi-getfd [-r|-w] NODE PID FD [--as N] CMD [ARGS...]");
    exit(2)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut access = 3u32; // the file's own access mode
    match args.first().map(String::as_str) {
        Some("-r") => {
            access = 0;
            args.remove(0);
        }
        Some("-w") => {
            access = 1;
            args.remove(0);
        }
        _ => {}
    }
    if args.len() < 4 {
        usage()
    }
    let num = |s: &str| s.parse::<u32>().unwrap_or_else(|_| usage());
    let (node, pid, fd) = (num(&args[0]), num(&args[1]), num(&args[2]));
    let mut rest = &args[3..];
    let mut target = fd;
    if rest.first().map(String::as_str) == Some("--as") {
        let Some(n) = rest.get(1) else { usage() };
        target = num(n);
        rest = &rest[2..];
    }
    let Some((cmd, cmd_args)) = rest.split_first() else {
        usage()
    };
    let dev = match OpenOptions::new().read(true).write(true).open(DEVICE) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ssi-getfd: {DEVICE}: {e} (is ssi_ghost.ko loaded?)");
            exit(1)
        }
    };
    let mut arg = GetFdArg {
        node,
        pid,
        fd: fd as i32, // the same four bytes
        flags: access,
        new_fd: -1,
    }
    .encode();
    let ret = ioctl(dev.as_raw_fd(), IOC_GETFD, &mut arg);
    let got = match check(ret) {
        Ok(n) => n,
        Err(e) => {
            let why = match e.raw_os_error() {
                Some(3) => format!("no process {pid} on node {node}"),
                Some(9) => format!("process {pid} on node {node} has no fd {fd}"),
                Some(1) => format!("not permitted to use the files of process {pid}"),
                Some(112) => format!("node {node} is not a member of the cluster"),
                Some(66) => format!("fd {fd} of process {pid} is itself a remote file"),
                Some(13) => format!("fd {fd} of process {pid} is not open for that access"),
                _ => String::from("remote file access failed"),
            };
            eprintln!("ssi-getfd: {why} ({e})");
            exit(1)
        }
    };
    drop(dev);
    if got != target as usize {
        // SAFETY: plain descriptors of this process.
        unsafe {
            check(syscall(SYS_DUP2, [got, target as usize, 0, 0, 0, 0])).unwrap_or_else(|e| {
                eprintln!("ssi-getfd: dup2 to {target}: {e}");
                exit(1)
            });
            syscall(SYS_CLOSE, [got, 0, 0, 0, 0, 0]);
        }
    }
    let e = Command::new(cmd).args(cmd_args).exec();
    eprintln!("ssi-getfd: {cmd}: {e}");
    exit(127)
}
