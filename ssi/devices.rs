// SPDX-License-Identifier: GPL-2.0-only
//! Remote devices: `/dev/ssi/node<K>/{console,null,zero,urandom}` are node
//! K's own devices, reached through the `SERVICE_DEV` RPC service.
//!
//! Client side: the character devices of `rust/kernel_ext/chrdev.rs`, minor
//! `K * 4 + dev` (`rust/proto/src/dev.rs`); each open file is a handle on
//! node K. A worker thread keeps one directory per member of the view.
//!
//! Server side: requests are handled on the receive thread, which must not
//! block, so every file is opened `O_NONBLOCK` and a read with nothing to
//! read answers `EAGAIN`; the client waits and asks again. Handles belong
//! to the node that opened them and are closed when it leaves the view.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings, c_str, fmt, new_condvar, new_mutex,
    prelude::*,
    str::CStr,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
    uaccess::{UserSliceReader, UserSliceWriter},
};

use crate::cluster::Core;
use crate::kernel_ext::chrdev::{FileOps, Operations, Registration};
use crate::kernel_ext::errno;
use crate::kernel_ext::file::File;
use crate::kernel_ext::kthread::{self, KThread};
use crate::proto::dev::{
    decode_u32, minor, split_minor, Access, Dev, Handles, Quota, Request, MAX_IO, MINORS,
};
use crate::proto::wire::Kind;
use crate::rpc::{self, Mode};

/// Remote devices: open, read, write and close a node's devices.
pub(crate) const SERVICE_DEV: u16 = 9;

/// Files a node keeps open for its peers, in all and per peer.
const MAX_HANDLES: usize = 128;
const MAX_HANDLES_PER_NODE: usize = 48;
/// A peer's share of them, split among its users (the rest stays root's).
const QUOTA: Quota = Quota {
    per_user: 8,
    users: 32,
};
/// How long an open waits for the node; then it is taken as down.
const OPEN_TIMEOUT_MS: u32 = 2000;
const IO_TIMEOUT_MS: u32 = 2000;
/// Pause before asking again after `EAGAIN` (blocking files).
const RETRY_MS: u32 = 20;

fn path(dev: Dev) -> &'static CStr {
    match dev {
        Dev::Console => c_str!("/dev/console"),
        Dev::Null => c_str!("/dev/null"),
        Dev::Zero => c_str!("/dev/zero"),
        Dev::Urandom => c_str!("/dev/urandom"),
    }
}

struct State {
    /// Files this node serves, with the uid each is charged to.
    handles: Handles<(File, u32), MAX_HANDLES>,
    /// The view changed since the worker last looked.
    dirty: bool,
}

/// The part of remote devices the core holds (see `Core::devices`).
#[pin_data]
pub(crate) struct Shared {
    /// Per node, bumped when it leaves the view: files opened on it before
    /// then fail with `EIO`.
    generation: [AtomicU32; 256],
    #[pin]
    state: Mutex<State>,
    #[pin]
    changed: CondVar,
}

impl Shared {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Shared {
            generation: [const { AtomicU32::new(0) }; 256],
            state <- new_mutex!(State {
                handles: Handles::new(MAX_HANDLES_PER_NODE),
                dirty: true,
            }),
            changed <- new_condvar!(),
        })
    }
}

/// Registers `SERVICE_DEV` (on the worker thread: reads and writes may
/// block) and the listener that follows the view.
fn register(core: &Core) -> Result {
    rpc::register_builtin(core, SERVICE_DEV, serve, Mode::DEFERRED)?;
    core.listen(membership_changed)
}

/// Hears of a node that joined or left the view (receive or topology
/// thread; does not block): a node that left loses its files here, and its
/// open remote files turn to `EIO`; the worker updates `/dev/ssi`.
fn membership_changed(core: &Core, node: u8, up: bool) {
    let d = &core.devices;
    let mut s = d.state.lock();
    if !up {
        d.generation[usize::from(node)].fetch_add(1, Ordering::AcqRel);
        while let Some(file) = s.handles.remove_any(node) {
            drop(file);
        }
    }
    s.dirty = true;
    drop(s);
    d.changed.notify_all();
}

/// Answers a `SERVICE_DEV` request (or one-way `CLOSE`) of node `src` with
/// its answer in `resp`. A bad request changes nothing.
fn serve(core: &Core, src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let req = Request::decode(req).ok_or(EINVAL)?;
    let mut s = core.devices.state.lock();
    let (handle, n) = match req {
        Request::Open { dev, access, uid } => {
            let own = s.handles.count_where(src, |f| f.1 == uid);
            let users = s.handles.count_where(src, |f| f.1 != 0);
            if !s.handles.has_room(src) || !QUOTA.allows(uid, own, users) {
                return Err(EMFILE);
            }
            let flags = access.flags() | bindings::O_NOCTTY | bindings::O_NONBLOCK;
            let file = File::open(path(dev), flags)?;
            let h = s.handles.insert(src, (file, uid)).map_err(|_| EMFILE)?;
            (h, None)
        }
        Request::Read { handle, count } => {
            let f = s.handles.get_mut(src, handle).map_err(|_| EBADF)?;
            let buf = resp.get_mut(..count as usize).ok_or(EINVAL)?;
            return f.0.read(buf);
        }
        Request::Write { handle, data } => {
            let f = s.handles.get_mut(src, handle).map_err(|_| EBADF)?;
            let n = f.0.write(data)?;
            (handle, Some(n as u32))
        }
        Request::Close { handle } => {
            let f = s.handles.remove(src, handle).map_err(|_| EBADF)?;
            drop(s);
            drop(f);
            return Ok(0);
        }
    };
    let answer = n.unwrap_or(handle).to_le_bytes();
    resp.get_mut(..4).ok_or(EINVAL)?.copy_from_slice(&answer);
    Ok(4)
}

/// The client: every `/dev/ssi/node<K>/*` file.
pub(crate) struct Remote {
    core: Arc<Core>,
}

/// An open remote file.
pub(crate) struct RemoteFile {
    node: u8,
    handle: u32,
    generation: u32,
}

impl Remote {
    fn generation(&self, node: u8) -> u32 {
        self.core.devices.generation[usize::from(node)].load(Ordering::Acquire)
    }

    /// The file's node is still the one it was opened on.
    fn check(&self, f: &RemoteFile) -> Result {
        if self.generation(f.node) == f.generation {
            Ok(())
        } else {
            Err(EIO)
        }
    }

    /// Calls `SERVICE_DEV` on `node`; the answer, or the remote errno. A
    /// node that does not answer is down.
    fn call(&self, node: u8, req: &[u8], timeout_ms: u32) -> Result<KVec<u8>> {
        match rpc::call(&self.core, node, SERVICE_DEV, req, timeout_ms) {
            Ok((0, data)) => Ok(data),
            Ok((status, _)) if (1..4096).contains(&status) => {
                Err(Error::from_errno(-i32::from(status)))
            }
            Ok(_) => Err(EIO),
            Err(e) if e == errno::etimedout() || e == errno::eshutdown() => Err(errno::ehostdown()),
            Err(e) => Err(e),
        }
    }

    /// Calls with `req` until the answer is not `EAGAIN` (unless
    /// `nonblock`); a signal ends the wait with `EINTR`.
    fn call_io(&self, f: &RemoteFile, req: &[u8], nonblock: bool) -> Result<KVec<u8>> {
        loop {
            self.check(f)?;
            match self.call(f.node, req, IO_TIMEOUT_MS) {
                Err(e) if e == EAGAIN && !nonblock => {
                    if kthread::signal_pending() {
                        return Err(EINTR);
                    }
                    kthread::sleep_ms(RETRY_MS);
                }
                Err(e) if e == errno::ehostdown() => return Err(EIO),
                r => return r,
            }
        }
    }
}

impl Operations for Remote {
    type File = RemoteFile;

    fn mode(minor: u32) -> u16 {
        split_minor(minor).map_or(0o600, |(_, dev)| dev.mode())
    }

    fn open(&self, minor: u32, flags: u32) -> Result<RemoteFile> {
        let (node, dev) = split_minor(minor).ok_or(ENXIO)?;
        let access = Access::from_flags(flags).ok_or(EINVAL)?;
        let generation = self.generation(node);
        if !self.core.is_member(node) {
            return Err(errno::ehostdown());
        }
        let mut req = [0u8; 7];
        let uid = crate::kernel_ext::cred::ids().uid[3];
        let n = Request::Open { dev, access, uid }
            .encode(&mut req)
            .ok_or(EINVAL)?;
        let answer = self.call(node, &req[..n], OPEN_TIMEOUT_MS)?;
        let handle = decode_u32(&answer).ok_or(EIO)?;
        let file = RemoteFile {
            node,
            handle,
            generation,
        };
        // The node may have left during the call: then its answer is void.
        if self.check(&file).is_err() {
            return Err(EIO);
        }
        Ok(file)
    }

    fn read(&self, f: &RemoteFile, out: &mut UserSliceWriter, nonblock: bool) -> Result<usize> {
        let count = out.len().min(MAX_IO) as u32;
        if count == 0 {
            return Ok(0);
        }
        let mut req = [0u8; 9];
        let n = Request::Read {
            handle: f.handle,
            count,
        }
        .encode(&mut req)
        .ok_or(EINVAL)?;
        let data = self.call_io(f, &req[..n], nonblock)?;
        if data.len() > count as usize {
            return Err(EIO);
        }
        out.write_slice(&data)?;
        Ok(data.len())
    }

    fn write(&self, f: &RemoteFile, input: &mut UserSliceReader, nonblock: bool) -> Result<usize> {
        let count = input.len().min(MAX_IO);
        let mut req = KVec::from_elem(0u8, 5 + count, GFP_KERNEL)?;
        let data = req.get_mut(5..).ok_or(EINVAL)?;
        input.read_slice(data)?;
        // Encode in place: the header in front of the data just read.
        let mut head = [0u8; 5];
        Request::Write {
            handle: f.handle,
            data: &[],
        }
        .encode(&mut head)
        .ok_or(EINVAL)?;
        req[..5].copy_from_slice(&head);
        let answer = self.call_io(f, &req, nonblock)?;
        let written = decode_u32(&answer).ok_or(EIO)? as usize;
        if written > count {
            return Err(EIO);
        }
        Ok(written)
    }

    fn release(&self, f: RemoteFile) {
        if self.check(&f).is_err() {
            return; // the node's files went with it
        }
        let mut req = [0u8; 5];
        if let Some(n) = (Request::Close { handle: f.handle }).encode(&mut req) {
            // One-way: releasing never waits (a lost close is undone when
            // the node leaves, or counts against this node's share).
            let _ = self
                .core
                .send(Kind::Oneway, SERVICE_DEV, f.node, 0, 0, &req[..n]);
        }
    }
}

static FOPS: FileOps<Remote> = FileOps::new(&crate::THIS_MODULE);

/// The device nodes and the worker that keeps them; dropping stops it and
/// removes them.
pub(crate) struct Devices {
    _worker: KThread,
}

impl Devices {
    pub(crate) fn start(core: &Arc<Core>) -> Result<Self> {
        register(core)?;
        let data = Arc::new(Remote { core: core.clone() }, GFP_KERNEL)?;
        let reg = Registration::new(&FOPS, c_str!("ssi"), MINORS, data)?;
        let c = core.clone();
        let worker = KThread::spawn(c_str!("ssi_dev"), move || keep_nodes(c, reg))?;
        Ok(Devices { _worker: worker })
    }
}

/// One `/dev/ssi/node<K>/` per member of the view, until stopped.
fn keep_nodes(core: Arc<Core>, mut reg: Registration<Remote>) {
    while !kthread::should_stop() {
        {
            let mut s = core.devices.state.lock();
            if !s.dirty {
                let _ = core
                    .devices
                    .changed
                    .wait_interruptible_timeout(&mut s, msecs_to_jiffies(1000));
            }
            if !core::mem::replace(&mut s.dirty, false) {
                continue;
            }
        }
        let members = core.state.lock().membership.view().members;
        for node in 1..=255u8 {
            let want = members.contains(node);
            for dev in Dev::ALL {
                let minor = minor(node, dev);
                if !want {
                    reg.remove(minor);
                } else if !reg.exists(minor) {
                    let r = reg.create(minor, fmt!("ssi!node{}!{}", node, dev.name()));
                    if let Err(e) = r {
                        pr_warn!(
                            "/dev/ssi/node{}/{}: error {}\n",
                            node,
                            dev.name(),
                            e.to_errno()
                        );
                    }
                }
            }
        }
    }
    // `reg` goes here, with every device node.
}
