// SPDX-License-Identifier: GPL-2.0-only
//! ssi-checkpoint [--stop] [--force] PID FILE: write the state of process
//! PID to FILE. The process goes on, or with --stop it is killed once FILE
//! is complete (it does not run another instruction; restart it with
//! ssi-restart FILE on any node).
//!
//! FILE is created (mode 0600) and must not exist: a symbolic link is
//! never followed, so root checkpointing into /tmp cannot be made to write
//! through a user's link. --force overwrites an existing regular file of
//! the caller's own (still never through a link).

use ssi_ghost_tools::*;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::process::exit;

const O_NOFOLLOW: i32 = 0o400000;
const ELOOP: i32 = 40;

fn usage() -> ! {
    eprintln!("usage: ssi-checkpoint [--stop] [--force] PID FILE");
    exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut stop, mut force) = (false, false);
    let mut rest = &args[..];
    while let Some(opt) = rest.first() {
        match opt.as_str() {
            "--stop" => stop = true,
            "--force" => force = true,
            _ => break,
        }
        rest = &rest[1..];
    }
    let [pid, file] = rest else { usage() };
    let Ok(pid) = pid.parse::<u32>() else { usage() };
    let dev = match OpenOptions::new().read(true).write(true).open(DEVICE) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ssi-checkpoint: {DEVICE}: {e} (is ssi_ghost.ko loaded?)");
            exit(1)
        }
    };
    let mut opts = OpenOptions::new();
    opts.write(true).mode(0o600).custom_flags(O_NOFOLLOW);
    if force {
        opts.create(true);
    } else {
        opts.create_new(true);
    }
    let out = match opts.open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "ssi-checkpoint: {file} exists: refused (--force overwrites a file of yours)"
            );
            exit(1)
        }
        Err(e) if e.raw_os_error() == Some(ELOOP) => {
            eprintln!("ssi-checkpoint: {file} is a symbolic link: refused");
            exit(1)
        }
        Err(e) => {
            eprintln!("ssi-checkpoint: {file}: {e}");
            exit(1)
        }
    };
    if force {
        // Only a regular file of the caller's own is overwritten.
        // SAFETY: geteuid takes no argument.
        let euid = unsafe { syscall(SYS_GETEUID, [0; 6]) } as u32;
        match out.metadata() {
            Ok(m) if m.is_file() && m.uid() == euid => {}
            _ => {
                eprintln!("ssi-checkpoint: {file} is not a regular file of yours: refused");
                exit(1)
            }
        }
        if let Err(e) = out.set_len(0) {
            eprintln!("ssi-checkpoint: {file}: {e}");
            exit(1)
        }
    }
    let mut arg = DumpArg {
        pid,
        fd: out.as_raw_fd(),
        flags: if stop { DUMP_STOP } else { 0 },
        reason: Reason::None,
        detail: 0,
        bytes: 0,
    }
    .encode();
    let ret = ioctl(dev.as_raw_fd(), IOC_DUMP, &mut arg);
    let DumpArg {
        reason,
        detail,
        bytes,
        ..
    } = DumpArg::decode(&arg);
    if let Err(e) = check(ret) {
        let why = reason_text(reason, detail);
        if why.is_empty() {
            eprintln!("ssi-checkpoint: cannot checkpoint PID {pid}: {e}");
        } else {
            eprintln!("ssi-checkpoint: cannot checkpoint PID {pid}: {why} ({e})");
        }
        let _ = fs::remove_file(file);
        exit(1)
    }
    println!(
        "ssi-checkpoint: PID {pid} written to {file} ({bytes} bytes){}",
        if stop {
            ", process stopped"
        } else {
            ", process continues"
        }
    );
}
