// SPDX-License-Identifier: GPL-2.0-only
//! One big SMP: `/proc/{meminfo,stat,loadavg,uptime,cpuinfo}` for the whole
//! cluster.
//!
//! The kernel's hook (patch 5) asks `ssi_rs_proc_show` (`entry.rs`) for
//! these files; when `global_proc` is on, [`show`] fetches every member's
//! own file (service `SERVICE_PROC_LOCAL`, answered on the worker thread,
//! which as a kernel thread reads the local file) and merges them
//! (`rust/proto/src/procfs.rs`).

use core::sync::atomic::Ordering;
use kernel::{alloc::flags::GFP_KERNEL, alloc::KVec, bindings, c_str, prelude::*, str::CStr};

use crate::cluster::Core;
use crate::kernel_ext::{file, seq::SeqFile};
use crate::proto::procfs;
use crate::rpc::{self, Mode};

/// Request `[file]`: this node's own /proc system file.
pub(crate) const SERVICE_PROC_LOCAL: u16 = 5;

/// In the order of `enum ssi_proc_file`.
const FILES: [&CStr; 5] = [
    c_str!("/proc/meminfo"),
    c_str!("/proc/stat"),
    c_str!("/proc/loadavg"),
    c_str!("/proc/uptime"),
    c_str!("/proc/cpuinfo"),
];

/// How long a reader waits for one node before leaving it out.
const NODE_TIMEOUT_MS: u32 = 500;

/// Registers `SERVICE_PROC_LOCAL` (on the worker thread: it reads files).
pub(crate) fn register(core: &Core) -> Result {
    let mode = Mode::DEFERRED.requests_only();
    rpc::register_builtin(core, SERVICE_PROC_LOCAL, serve_local, mode)
}

/// Answers `SERVICE_PROC_LOCAL`: request `[file]`, answer this node's file.
fn serve_local(_core: &Core, _src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let [i] = req else { return Err(EINVAL) };
    let path = FILES.get(usize::from(*i)).ok_or(EINVAL)?;
    file::read(path, resp)
}

/// Fills `m` with the cluster's `file` (`enum ssi_proc_file`).
pub(crate) fn show(core: &Core, file: u32, m: *mut bindings::seq_file) -> Result {
    if !core.global_proc.load(Ordering::Relaxed) || core.state.lock().detached {
        return Err(ENOENT);
    }
    let index = u8::try_from(file)
        .ok()
        .filter(|&i| usize::from(i) < FILES.len())
        .ok_or(ENOENT)?;
    let members = core.state.lock().membership.view().members;
    let mut texts = KVec::new();
    for id in members.iter() {
        // A node that does not answer in time is left out of the view.
        if let Ok((0, text)) = rpc::call(core, id, SERVICE_PROC_LOCAL, &[index], NODE_TIMEOUT_MS) {
            texts.push(text, GFP_KERNEL)?;
        }
    }
    if texts.is_empty() {
        return Err(ENOENT);
    }
    let mut slices = KVec::with_capacity(texts.len(), GFP_KERNEL)?;
    for t in texts.iter() {
        slices.push(&t[..], GFP_KERNEL)?;
    }
    // SAFETY: `m` is the seq_file of the running show call (the hook's
    // contract), and `seq` does not outlive this function.
    let mut seq = unsafe { SeqFile::from_raw(m) };
    let merged = match index {
        0 => procfs::merge_meminfo(&slices, &mut seq),
        1 => procfs::merge_stat(&slices, &mut seq),
        2 => procfs::merge_loadavg(&slices, &mut seq),
        3 => procfs::merge_uptime(&slices, &mut seq),
        _ => procfs::merge_cpuinfo(&slices, &mut seq),
    };
    merged.map_err(|_| EINVAL)
}
