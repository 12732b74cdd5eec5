// SPDX-License-Identifier: GPL-2.0-only
//! ssi-migrate [--eager|--on-demand] PID NODE: move process PID, which
//! runs on this node, to node NODE. It keeps its PID, its parent and its
//! open files; on failure it goes on here, unchanged. Its pages go with it
//! (eager) or follow when it touches them (on demand); without either
//! option, `/sys/kernel/ssi/ghost/mode` decides.
//!
//! ssi-migrate --forbid|--allow|--status PID: forbid (its owner or root)
//! or allow again (root) the migration of PID and of the processes it will
//! fork, or show whether it may be migrated.

use ssi_ghost_tools::*;
use std::fs::OpenOptions;
use std::os::unix::io::AsRawFd;
use std::process::exit;

fn usage() -> ! {
    eprintln!(
        "usage: ssi-migrate [--eager|--on-demand] PID NODE | ssi-migrate --forbid|--allow|--status PID"
    );
    exit(2)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // MIGRATE's flags: 0 as the mode knob says, 1 eager, 2 on demand.
    let mode = match args.first().map(String::as_str) {
        Some("--eager") => 1,
        Some("--on-demand") => 2,
        _ => 0,
    };
    if mode != 0 {
        args.remove(0);
        if args.len() != 2 {
            usage();
        }
    }
    let num = |i: usize| args.get(i).and_then(|a| a.parse::<u32>().ok());
    let (pid, node, flags) = match (args.len(), args.first().map(String::as_str)) {
        (2, Some("--status")) => (num(1).unwrap_or_else(|| usage()), None, 0u32),
        (2, Some("--forbid")) => (num(1).unwrap_or_else(|| usage()), None, 1),
        (2, Some("--allow")) => (num(1).unwrap_or_else(|| usage()), None, 2),
        (2, _) => match (num(0), num(1)) {
            (Some(p), Some(n)) => (p, Some(n), mode),
            _ => usage(),
        },
        _ => usage(),
    };
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open(DEVICE)
        .unwrap_or_else(|e| {
            eprintln!("ssi-migrate: {DEVICE}: {e} (is ssi_ghost.ko loaded?)");
            exit(1)
        });
    let mut arg = MigrateArg {
        pid,
        node: node.unwrap_or(0),
        flags,
        reason: Reason::None,
        detail: 0,
    }
    .encode();
    let Some(node) = node else {
        let ret = ioctl(dev.as_raw_fd(), IOC_MAY_MIGRATE, &mut arg);
        if let Err(e) = check(ret) {
            eprintln!("ssi-migrate: {pid}: {e}");
            exit(1)
        }
        let may = MigrateArg::decode(&arg).detail != 0;
        println!(
            "{pid}: migration {}",
            if may { "allowed" } else { "forbidden" }
        );
        return;
    };
    let ret = ioctl(dev.as_raw_fd(), IOC_MIGRATE, &mut arg);
    if let Err(e) = check(ret) {
        let a = MigrateArg::decode(&arg);
        let why = reason_text(a.reason, a.detail);
        let msg = match e.raw_os_error() {
            Some(22) if why.is_empty() => format!("{e} (is node {node} another member?)"),
            Some(112) => format!("{e}: node {node} left the cluster; the process goes on here"),
            Some(110) => format!("{e}: node {node} did not answer; the process goes on here"),
            _ if why.is_empty() => e.to_string(),
            _ => format!("{e}: {why}"),
        };
        eprintln!("ssi-migrate: cannot migrate {pid} to node {node}: {msg}");
        exit(1)
    }
}
