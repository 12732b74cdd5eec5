// SPDX-License-Identifier: GPL-2.0-only
//! UNIX sockets for the dynamic streams: what an open file that is a
//! socket is ([`unix_stream`]), `shutdown(2)` of one, and sockets whose
//! operations a module implements ([`SockFile`]).
//!
//! A module's socket is a real `AF_UNIX` `SOCK_STREAM` socket, made by
//! `sock_create_kern()` in the caller's name (so that `fstat()` shows a
//! socket and the socket layer's own options, `SO_TYPE` among them, work
//! on its `struct sock`), whose `proto_ops` are then the module's:
//! `sendmsg`, `recvmsg`, `poll`, `shutdown` and `getname` go to a
//! [`SockOps`] implementation; `bind`, `connect`, `listen`, `accept`,
//! `mmap` and `ioctl` are refused. Its state is kept in the socket
//! inode's `i_private` (sockfs does not use it); the release frees it,
//! then lets `AF_UNIX` free its `struct sock`.
//!
//! ```ignore
//! static OPS: SockProtoOps<Mine> = SockProtoOps::new(&crate::THIS_MODULE);
//! let f = SockFile::new(&OPS, Mine { .. }, bindings::O_NONBLOCK)?;
//! ```

use core::marker::PhantomData;
use kernel::ffi::{c_int, c_uint, c_ulong};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{code::*, Error, Result},
    ThisModule,
};

use crate::kernel_ext::file::FdFile;
use crate::kernel_ext::poll::PollTable;

/// `PF_UNIX`, `SOCK_STREAM`, `SS_CONNECTED`.
const PF_UNIX: c_int = 1;
const SOCK_STREAM: i16 = 1;
/// `msg_flags` bits a proxy looks at.
pub const MSG_OOB: u32 = 0x1;
pub const MSG_PEEK: u32 = 0x2;
pub const MSG_DONTWAIT: u32 = 0x40;
pub const MSG_WAITALL: u32 = 0x100;
pub const MSG_NOSIGNAL: u32 = 0x4000;
pub const MSG_ERRQUEUE: u32 = 0x2000;

/// The socket of `f` if it is a connected `AF_UNIX` stream socket (not a
/// listening one, not one of [`SockFile`]'s).
fn socket_of(f: &FdFile) -> Option<*mut bindings::socket> {
    // SAFETY: an open file (`FdFile`'s invariant); `sock_from_file` only
    // compares its `f_op` and reads `private_data`.
    let s = unsafe { bindings::sock_from_file(f.as_ptr()) };
    if s.is_null() {
        None
    } else {
        Some(s)
    }
}

/// What kind of socket `f` is, if it is one: `(family, type, connected)`.
pub fn kind(f: &FdFile) -> Option<(i32, i32, bool)> {
    let s = socket_of(f)?;
    // SAFETY: a socket of an open file: its `ops` (set while the file is
    // open), type and state are read only.
    unsafe {
        let ops = (*s).ops;
        if ops.is_null() {
            return None;
        }
        Some((
            (*ops).family,
            i32::from((*s).type_),
            (*s).state == bindings::socket_state_SS_CONNECTED,
        ))
    }
}

/// Whether `f` is a connected `AF_UNIX` stream socket.
pub fn unix_stream(f: &FdFile) -> bool {
    matches!(kind(f), Some((PF_UNIX, t, true)) if t == i32::from(SOCK_STREAM))
}

extern "C" {
    // net/unix/af_unix.c (include/net/af_unix.h, not in the bindings):
    // the peer of a UNIX socket, with a reference.
    fn unix_peer_get(sk: *mut bindings::sock) -> *mut bindings::sock;
    // net/ipv4/inet_hashtables.c (include/net/sock.h): drops a reference
    // to a full socket (`sock_put()` is inline).
    fn sock_gen_put(sk: *mut bindings::sock);
}

/// An identity of the connection end `f` is (its `struct sock`), compared
/// only; 0 if it is not a socket.
pub fn identity(f: &FdFile) -> u64 {
    // SAFETY: the socket of an open file; `sk` is only read.
    socket_of(f).map_or(0, |s| unsafe { (*s).sk } as usize as u64)
}

/// The [`identity`] of the peer of UNIX stream socket `f` (0: none).
pub fn peer_identity(f: &FdFile) -> u64 {
    if !unix_stream(f) {
        return 0;
    }
    let Some(s) = socket_of(f) else {
        return 0;
    };
    // SAFETY: a UNIX socket of an open file we hold: its `sk` lives.
    let peer = unsafe { unix_peer_get((*s).sk) };
    if peer.is_null() {
        return 0;
    }
    // SAFETY: `unix_peer_get` took a reference, given back here; `f`'s
    // socket keeps its own reference to its peer, so this is never the
    // last one.
    unsafe { sock_gen_put(peer) };
    peer as usize as u64
}

/// `MSG_CTRUNC`: ancillary data was dropped.
const MSG_CTRUNC: u32 = 0x8;

/// Reads from socket file `f` without blocking (`EAGAIN` if there is
/// nothing): the bytes and whether ancillary data that came with them
/// (descriptors, credentials) was dropped (no control buffer is given).
pub fn recv_nowait(f: &FdFile, buf: &mut [u8]) -> Result<(usize, bool)> {
    let s = socket_of(f).ok_or_else(crate::kernel_ext::errno::enotsock)?;
    // SAFETY: all-zero is a valid, empty `msghdr`.
    let mut msg: bindings::msghdr = unsafe { core::mem::zeroed() };
    let mut v = bindings::kvec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: a socket of an open file we hold; `v` points into `buf`,
    // writable for its length, during the call.
    let n = unsafe {
        bindings::kernel_recvmsg(s, &mut msg, &mut v, 1, buf.len(), MSG_DONTWAIT as c_int)
    };
    if n < 0 {
        return Err(Error::from_errno(n));
    }
    Ok(((n as usize).min(buf.len()), msg.msg_flags & MSG_CTRUNC != 0))
}

/// Writes to socket file `f` without blocking and without `SIGPIPE`:
/// how many bytes went in (`EAGAIN` if none could, `EPIPE` if the peer
/// is gone).
pub fn send_nowait(f: &FdFile, buf: &[u8]) -> Result<usize> {
    let s = socket_of(f).ok_or_else(crate::kernel_ext::errno::enotsock)?;
    // SAFETY: all-zero is a valid, empty `msghdr`.
    let mut msg: bindings::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
    let mut v = bindings::kvec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: a socket of an open file we hold; the socket only reads
    // `buf` through `v` during the call.
    let n = unsafe { bindings::kernel_sendmsg(s, &mut msg, &mut v, 1, buf.len()) };
    if n < 0 {
        return Err(Error::from_errno(n));
    }
    Ok((n as usize).min(buf.len()))
}

/// `shutdown(2)` of socket file `f` (`how`: 0 to 2).
pub fn shutdown(f: &FdFile, how: u32) -> Result {
    let s = socket_of(f).ok_or_else(crate::kernel_ext::errno::enotsock)?;
    // SAFETY: a socket of an open file we hold a reference on.
    let r = unsafe { bindings::kernel_sock_shutdown(s, how as bindings::sock_shutdown_cmd) };
    if r < 0 {
        Err(Error::from_errno(r))
    } else {
        Ok(())
    }
}

/// The data of a `sendmsg` or `recvmsg`: the caller's buffers.
pub struct MsgIter {
    it: *mut bindings::iov_iter,
    left: usize,
    /// Ancillary data for the caller was dropped (`MSG_CTRUNC`).
    ctrunc: bool,
}

impl MsgIter {
    /// Tells the `recvmsg` caller that ancillary data that came with the
    /// bytes was dropped (`MSG_CTRUNC` in its `msg_flags`).
    pub fn control_truncated(&mut self) {
        self.ctrunc = true;
    }

    /// Bytes left to give or take.
    pub fn len(&self) -> usize {
        self.left
    }

    /// Copies `b` to the caller (`EFAULT` if it did not all go).
    pub fn put(&mut self, b: &[u8]) -> Result {
        if b.len() > self.left {
            return Err(EINVAL);
        }
        // SAFETY: `it` is the message's iterator, valid during the call
        // (`MsgIter` lives only in a trampoline); `b` is readable.
        let n = unsafe { bindings::_copy_to_iter(b.as_ptr().cast(), b.len(), self.it) };
        self.left -= n.min(self.left);
        if n == b.len() {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }

    /// Fills `b` from the caller (`EFAULT` if it could not).
    pub fn take(&mut self, b: &mut [u8]) -> Result {
        if b.len() > self.left {
            return Err(EINVAL);
        }
        // SAFETY: as in `put`; `b` is writable.
        let n = unsafe { bindings::_copy_from_iter(b.as_mut_ptr().cast(), b.len(), self.it) };
        self.left -= n.min(self.left);
        if n == b.len() {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }
}

/// What a module's socket does. `flags` are the call's `MSG_*` flags
/// (`MSG_DONTWAIT` for a non-blocking one, the file's `O_NONBLOCK`
/// included).
pub trait SockOps: Send + Sync + Sized + 'static {
    fn recv(&self, out: &mut MsgIter, flags: u32) -> Result<usize>;
    fn send(&self, input: &mut MsgIter, flags: u32) -> Result<usize>;
    /// Queues the poller where a wake-up will come; the mask now.
    fn poll(&self, table: &PollTable) -> u32;
    /// `shutdown(2)`: `how` 0 to 2.
    fn shutdown(&self, how: u32) -> Result;
}

/// The state of a module's socket.
struct Boxed<T> {
    data: T,
    /// `AF_UNIX`'s operations, whose `release` frees the `struct sock`.
    unix: *const bindings::proto_ops,
}

/// The `proto_ops` of `T`; must be a `static` of the module that
/// implements `T` (each socket holds a reference on the module).
pub struct SockProtoOps<T: SockOps> {
    ops: bindings::proto_ops,
    _t: PhantomData<T>,
}

// SAFETY: `ops` is never written after construction.
unsafe impl<T: SockOps> Sync for SockProtoOps<T> {}

impl<T: SockOps> SockProtoOps<T> {
    pub const fn new(module: &'static ThisModule) -> Self {
        // SAFETY: all-zero is a valid `proto_ops` (no methods).
        let mut ops: bindings::proto_ops = unsafe { core::mem::zeroed() };
        ops.family = PF_UNIX;
        ops.owner = module.as_ptr();
        ops.release = Some(release_tramp::<T>);
        ops.bind = Some(bind_tramp);
        ops.connect = Some(connect_tramp);
        ops.socketpair = Some(socketpair_tramp);
        ops.accept = Some(accept_tramp);
        ops.getname = Some(getname_tramp);
        ops.poll = Some(poll_tramp::<T>);
        ops.ioctl = Some(ioctl_tramp);
        ops.listen = Some(listen_tramp);
        ops.shutdown = Some(shutdown_tramp::<T>);
        ops.sendmsg = Some(sendmsg_tramp::<T>);
        ops.recvmsg = Some(recvmsg_tramp::<T>);
        ops.mmap = Some(mmap_tramp);
        SockProtoOps {
            ops,
            _t: PhantomData,
        }
    }

    /// The state of `f` if it is a socket of these operations.
    pub fn data_of<'a>(&'static self, f: &'a FdFile) -> Option<&'a T> {
        let s = socket_of(f)?;
        // SAFETY: the socket of an open file: `ops` is fixed while it is
        // open, and a socket of ours has its state in its inode's
        // `i_private` until its release, after `f`'s reference goes.
        unsafe {
            if !core::ptr::eq((*s).ops, &self.ops) {
                return None;
            }
            let p = (*(*f.as_ptr()).f_inode).i_private.cast::<Boxed<T>>();
            if p.is_null() {
                return None;
            }
            Some(&(*p).data)
        }
    }
}

/// The state of socket `sock` of ours.
///
/// # Safety
///
/// `sock` must be a socket of `SockProtoOps<T>` with its file, not yet
/// released.
unsafe fn state<'a, T: SockOps>(sock: *mut bindings::socket) -> &'a T {
    // SAFETY: guaranteed by the caller: `SockFile::new` set `i_private`.
    unsafe { &(*(*(*(*sock).file).f_inode).i_private.cast::<Boxed<T>>()).data }
}

/// # Safety
///
/// Called by the socket layer only, once, for a socket of ours.
unsafe extern "C" fn release_tramp<T: SockOps>(sock: *mut bindings::socket) -> c_int {
    // SAFETY: a socket of ours (its ops are ours only after its file and
    // state were made); nothing else uses its state now.
    unsafe {
        let inode = (*(*sock).file).f_inode;
        let p = (*inode).i_private.cast::<Boxed<T>>();
        (*inode).i_private = core::ptr::null_mut();
        if p.is_null() {
            return 0;
        }
        let b = KBox::from_raw(p);
        let unix = b.unix;
        drop(b);
        match (*unix).release {
            Some(r) => r(sock),
            None => 0,
        }
    }
}

/// # Safety
///
/// Called by the socket layer only, for a socket of ours.
unsafe extern "C" fn sendmsg_tramp<T: SockOps>(
    sock: *mut bindings::socket,
    m: *mut bindings::msghdr,
    len: usize,
) -> c_int {
    // SAFETY: a socket of ours and a message valid during the call.
    let (s, flags, control) = unsafe { (state::<T>(sock), (*m).msg_flags, (*m).msg_controllen) };
    // Ancillary data (SCM_RIGHTS, SCM_CREDENTIALS) cannot be carried:
    // an error, never a silent loss.
    if control != 0 {
        return -95;
    }
    // SAFETY: as above.
    let mut it = MsgIter {
        it: unsafe { &raw mut (*m).msg_iter },
        left: len,
        ctrunc: false,
    };
    match s.send(&mut it, flags) {
        Ok(n) => n.min(i32::MAX as usize) as c_int,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// As [`sendmsg_tramp`].
unsafe extern "C" fn recvmsg_tramp<T: SockOps>(
    sock: *mut bindings::socket,
    m: *mut bindings::msghdr,
    len: usize,
    flags: c_int,
) -> c_int {
    // SAFETY: a socket of ours and a message valid during the call; no
    // address and no ancillary data are given back.
    let s = unsafe {
        (*m).msg_namelen = 0;
        state::<T>(sock)
    };
    // SAFETY: as above.
    let mut it = MsgIter {
        it: unsafe { &raw mut (*m).msg_iter },
        left: len,
        ctrunc: false,
    };
    let r = s.recv(&mut it, flags as u32);
    if it.ctrunc {
        // SAFETY: as above.
        unsafe { (*m).msg_flags |= MSG_CTRUNC };
    }
    match r {
        Ok(n) => n.min(i32::MAX as usize) as c_int,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// As [`sendmsg_tramp`]; `file` is the socket's file, `pt` null or valid.
unsafe extern "C" fn poll_tramp<T: SockOps>(
    file: *mut bindings::file,
    sock: *mut bindings::socket,
    pt: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: a socket of ours; `file` and `pt` are valid during the call.
    let (s, table) = unsafe { (state::<T>(sock), PollTable::from_raw(file, pt)) };
    s.poll(&table)
}

/// # Safety
///
/// As [`sendmsg_tramp`].
unsafe extern "C" fn shutdown_tramp<T: SockOps>(sock: *mut bindings::socket, how: c_int) -> c_int {
    let Ok(how) = u32::try_from(how) else {
        return EINVAL.to_errno();
    };
    if how > 2 {
        return EINVAL.to_errno();
    }
    // SAFETY: a socket of ours.
    match unsafe { state::<T>(sock) }.shutdown(how) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// An unnamed `AF_UNIX` address (a socketpair's), the length as `getname`
/// returns it.
///
/// # Safety
///
/// `addr` must have room for a `sockaddr_storage`.
unsafe extern "C" fn getname_tramp(
    _sock: *mut bindings::socket,
    addr: *mut bindings::sockaddr,
    _peer: c_int,
) -> c_int {
    // SAFETY: the socket layer passes a `sockaddr_storage`.
    unsafe { (*addr).sa_family = PF_UNIX as _ };
    2
}

/// # Safety
///
/// Called by the socket layer only.
unsafe extern "C" fn bind_tramp(
    _sock: *mut bindings::socket,
    _addr: *mut bindings::sockaddr,
    _len: c_int,
) -> c_int {
    EINVAL.to_errno()
}

/// # Safety
///
/// Called by the socket layer only.
unsafe extern "C" fn connect_tramp(
    _sock: *mut bindings::socket,
    _addr: *mut bindings::sockaddr,
    _len: c_int,
    _flags: c_int,
) -> c_int {
    Error::from_errno(-106).to_errno() // EISCONN
}

/// # Safety
///
/// Called by the socket layer only.
unsafe extern "C" fn socketpair_tramp(
    _a: *mut bindings::socket,
    _b: *mut bindings::socket,
) -> c_int {
    -95
}

/// # Safety
///
/// Called by the socket layer only.
unsafe extern "C" fn accept_tramp(
    _sock: *mut bindings::socket,
    _new: *mut bindings::socket,
    _arg: *mut bindings::proto_accept_arg,
) -> c_int {
    EINVAL.to_errno()
}

/// # Safety
///
/// Called by the socket layer only.
unsafe extern "C" fn listen_tramp(_sock: *mut bindings::socket, _backlog: c_int) -> c_int {
    EINVAL.to_errno()
}

/// # Safety
///
/// Called by the socket layer only.
unsafe extern "C" fn ioctl_tramp(
    _sock: *mut bindings::socket,
    _cmd: c_uint,
    _arg: c_ulong,
) -> c_int {
    ENOTTY.to_errno()
}

/// # Safety
///
/// Called by the socket layer only.
unsafe extern "C" fn mmap_tramp(
    _file: *mut bindings::file,
    _sock: *mut bindings::socket,
    _vma: *mut bindings::vm_area_struct,
) -> c_int {
    ENODEV.to_errno()
}

/// A new socket file of `ops` with state `data`.
pub struct SockFile;

impl SockFile {
    /// Makes the socket and its file (not in any fd table), with the
    /// `O_NONBLOCK` of `flags`.
    pub fn new<T: SockOps>(ops: &'static SockProtoOps<T>, data: T, flags: u32) -> Result<FdFile> {
        let b = KBox::new(
            Boxed {
                data,
                unix: core::ptr::null(),
            },
            GFP_KERNEL,
        )?;
        let mut sock = core::ptr::null_mut();
        // SAFETY: `init_net` lives as long as the kernel; `sock` is written
        // on success.
        let r = unsafe {
            bindings::sock_create_kern(
                &raw mut bindings::init_net,
                PF_UNIX,
                c_int::from(SOCK_STREAM),
                0,
                &mut sock,
            )
        };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        let fl = (flags & bindings::O_NONBLOCK) as c_int;
        // SAFETY: a new socket; `sock_alloc_file` releases it on failure.
        let file = unsafe { bindings::sock_alloc_file(sock, fl, core::ptr::null()) };
        let v = file as isize;
        if file.is_null() || (-4095..0).contains(&v) {
            return Err(if file.is_null() {
                ENOMEM
            } else {
                Error::from_errno(v as i32)
            });
        }
        // SAFETY: a new file with one reference, which we own.
        let f = unsafe { FdFile::from_raw(file) };
        let p = KBox::into_raw(b);
        // SAFETY: the socket and its inode are ours alone until the file
        // is installed; from here its release frees `p` and calls
        // `AF_UNIX`'s release; `__sock_release` drops the module reference
        // taken here.
        unsafe {
            (*p).unix = (*sock).ops;
            (*(*file).f_inode).i_private = p.cast();
            (*sock).state = bindings::socket_state_SS_CONNECTED;
            bindings::__module_get(ops.ops.owner);
            (*sock).ops = &ops.ops;
        }
        Ok(f)
    }
}
