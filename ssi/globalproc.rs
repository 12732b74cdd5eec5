// SPDX-License-Identifier: GPL-2.0-only
//! One big SMP: `/proc/{meminfo,stat,loadavg,uptime,cpuinfo}` and
//! `sysinfo(2)` for the whole cluster.
//!
//! The kernel's hook (patch 5) asks `ssi_rs_proc_show` (`entry.rs`) for
//! these files; when `global_proc` is on, [`show`] fetches every member's
//! own file (service `SERVICE_PROC_LOCAL`, answered on the worker thread,
//! which as a kernel thread reads the local file) and merges them
//! (`rust/proto/src/procfs.rs`). `sysinfo(2)` (patch 28) gets [`sysinfo`]:
//! the same merged files, read back.

use core::sync::atomic::Ordering;
use kernel::{alloc::flags::GFP_KERNEL, alloc::KVec, bindings, c_str, prelude::*, str::CStr};

use crate::cluster::Core;
use crate::kernel_ext::{errno, file, seq::SeqFile};
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

/// How long a reader waits for the members (asked at once) before leaving
/// out those that did not answer.
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

/// Indexes in [`FILES`] of the files `sysinfo(2)` is read from.
const MEMINFO: u8 = 0;
const LOADAVG: u8 = 2;
const UPTIME: u8 = 3;

/// Room for the merged files that [`sysinfo`] reads back: `/proc/meminfo`
/// (about 1.5 KiB) and the one-line `/proc/loadavg` and `/proc/uptime`.
const MEMINFO_MAX: usize = 8192;
const LINE_MAX: usize = 256;

/// Whether a reader gets the cluster's view.
fn cluster_view(core: &Core) -> bool {
    core.global_proc.load(Ordering::Relaxed) && !core.state.lock().detached
}

/// Every member's own file `index` of [`FILES`], in node order, asked of
/// all at once; a member that does not answer in time is left out.
fn fetch(core: &Core, index: u8) -> Result<KVec<KVec<u8>>> {
    let members = core.state.lock().membership.view().members;
    let mut dsts = KVec::new();
    for id in members.iter() {
        dsts.push(id, GFP_KERNEL)?;
    }
    let answers = rpc::call_many(core, &dsts, SERVICE_PROC_LOCAL, &[index], NODE_TIMEOUT_MS)?;
    let mut texts = KVec::new();
    for answer in answers.into_iter() {
        if let Ok((0, text)) = answer {
            texts.push(text, GFP_KERNEL)?;
        }
    }
    if texts.is_empty() {
        return Err(ENOENT);
    }
    Ok(texts)
}

/// The texts of [`fetch`] as the slices the merge functions take.
fn slices(texts: &[KVec<u8>]) -> Result<KVec<&[u8]>> {
    let mut slices = KVec::with_capacity(texts.len(), GFP_KERNEL)?;
    for t in texts.iter() {
        slices.push(&t[..], GFP_KERNEL)?;
    }
    Ok(slices)
}

/// Fills `m` with the cluster's `file` (`enum ssi_proc_file`).
pub(crate) fn show(core: &Core, file: u32, m: *mut bindings::seq_file) -> Result {
    if !cluster_view(core) {
        return Err(ENOENT);
    }
    let index = u8::try_from(file)
        .ok()
        .filter(|&i| usize::from(i) < FILES.len())
        .ok_or(ENOENT)?;
    let texts = fetch(core, index)?;
    let slices = slices(&texts)?;
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

/// The cluster's file `index` ([`MEMINFO`], [`LOADAVG`] or [`UPTIME`]),
/// merged as [`show`] shows it, into `buf`; returns its length.
fn merged(core: &Core, index: u8, buf: &mut [u8]) -> Result<usize> {
    let texts = fetch(core, index)?;
    let slices = slices(&texts)?;
    let mut out = procfs::SliceWriter::new(buf);
    let merged = match index {
        MEMINFO => procfs::merge_meminfo(&slices, &mut out),
        LOADAVG => procfs::merge_loadavg(&slices, &mut out),
        _ => procfs::merge_uptime(&slices, &mut out),
    };
    merged.map_err(|_| errno::eoverflow())?;
    Ok(out.written().len())
}

/// What `sysinfo(2)` reports with the cluster view on: the cluster's
/// `/proc/meminfo`, `/proc/loadavg` and `/proc/uptime`, merged as a reader
/// of those files gets them and read back, so that the syscall and the
/// files agree. `ENOENT`: the node's own values.
pub(crate) fn sysinfo(core: &Core) -> Result<procfs::Sysinfo> {
    if !cluster_view(core) {
        return Err(ENOENT);
    }
    let mut buf = KVec::from_elem(0u8, MEMINFO_MAX + 2 * LINE_MAX, GFP_KERNEL)?;
    let (mem, rest) = buf.split_at_mut(MEMINFO_MAX);
    let (load, up) = rest.split_at_mut(LINE_MAX);
    let n = merged(core, MEMINFO, mem)?;
    let mem = &mem[..n];
    let n = merged(core, LOADAVG, load)?;
    let load = &load[..n];
    let n = merged(core, UPTIME, up)?;
    let up = &up[..n];
    procfs::sysinfo(mem, load, up).ok_or(ENOENT)
}
