// SPDX-License-Identifier: GPL-2.0-only
//! ssi-checkpoint [--stop] PID FILE: write the state of process PID to
//! FILE. The process goes on, or with --stop it is killed once FILE is
//! complete (it does not run another instruction; restart it with
//! ssi-restart FILE on any node).

use ssi_ghost_tools::*;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::process::exit;

fn usage() -> ! {
    eprintln!("usage: ssi-checkpoint [--stop] PID FILE");
    exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (stop, rest) = match args.first().map(String::as_str) {
        Some("--stop") => (true, &args[1..]),
        _ => (false, &args[..]),
    };
    let [pid, file] = rest else { usage() };
    let Ok(pid) = pid.parse::<u32>() else { usage() };
    let dev = match OpenOptions::new().read(true).write(true).open(DEVICE) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ssi-checkpoint: {DEVICE}: {e} (is ssi_ghost.ko loaded?)");
            exit(1)
        }
    };
    let out = match OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ssi-checkpoint: {file}: {e}");
            exit(1)
        }
    };
    let mut arg = [0u8; 32];
    arg[0..4].copy_from_slice(&pid.to_le_bytes());
    arg[4..8].copy_from_slice(&out.as_raw_fd().to_le_bytes());
    arg[8..12].copy_from_slice(&(if stop { DUMP_STOP } else { 0 }).to_le_bytes());
    let ret = ioctl(dev.as_raw_fd(), IOC_DUMP, &mut arg);
    let reason = u32::from_le_bytes(arg[12..16].try_into().unwrap());
    let detail = u64::from_le_bytes(arg[16..24].try_into().unwrap());
    let bytes = u64::from_le_bytes(arg[24..32].try_into().unwrap());
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
