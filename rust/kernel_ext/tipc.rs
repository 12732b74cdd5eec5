// SPDX-License-Identifier: GPL-2.0-only
//! Kernel TIPC sockets: reliable datagrams to a service instance, cluster
//! multicast, and topology-service subscriptions.

use core::mem::{size_of, zeroed};
use kernel::{
    bindings,
    error::{code::EINVAL, Error, Result},
    ffi::c_void,
};

/// TIPC's own address of a node (32 bits), as the topology service reports.
pub type TipcNode = u32;

/// The socket a datagram came from: its node and port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketAddr {
    /// The node that hosts the socket.
    pub node: TipcNode,
    /// The socket's port number on that node.
    pub port: u32,
}

const AF_TIPC: i32 = bindings::AF_TIPC as i32;

fn to_result(ret: i32) -> Result<i32> {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(ret)
    }
}

/// A kernel socket of family `AF_TIPC` in the initial network namespace.
///
/// # Invariants
///
/// `sock` came from `sock_create_kern` and is released on drop.
pub struct TipcSocket {
    sock: *mut bindings::socket,
}

// SAFETY: kernel sockets may be used from any thread; the socket layer
// serialises concurrent calls itself.
unsafe impl Send for TipcSocket {}
// SAFETY: as above: every method takes `&self` and locks in the socket layer.
unsafe impl Sync for TipcSocket {}

/// The two socket types ssi-rs uses.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Reliable datagrams (`SOCK_RDM`).
    Rdm,
    /// A connection to the topology service (`SOCK_SEQPACKET`).
    SeqPacket,
}

fn service_addr(ty: u32, instance: u32) -> bindings::sockaddr_tipc {
    // SAFETY: all-zero is a valid `sockaddr_tipc`.
    let mut a: bindings::sockaddr_tipc = unsafe { zeroed() };
    a.family = AF_TIPC as u16;
    a.addrtype = bindings::TIPC_SERVICE_ADDR as u8;
    a.addr.name.name.type_ = ty;
    a.addr.name.name.instance = instance;
    a.addr.name.domain = 0;
    a
}

fn service_range(ty: u32, lower: u32, upper: u32) -> bindings::sockaddr_tipc {
    // SAFETY: all-zero is a valid `sockaddr_tipc`.
    let mut a: bindings::sockaddr_tipc = unsafe { zeroed() };
    a.family = AF_TIPC as u16;
    a.addrtype = bindings::TIPC_SERVICE_RANGE as u8;
    a.scope = bindings::tipc_scope_TIPC_CLUSTER_SCOPE as i8;
    a.addr.nameseq.type_ = ty;
    a.addr.nameseq.lower = lower;
    a.addr.nameseq.upper = upper;
    a
}

impl TipcSocket {
    /// Creates a socket of the given kind.
    pub fn new(kind: Kind) -> Result<Self> {
        let ty = match kind {
            Kind::Rdm => bindings::sock_type_SOCK_RDM,
            Kind::SeqPacket => bindings::sock_type_SOCK_SEQPACKET,
        };
        let mut sock = core::ptr::null_mut();
        // SAFETY: `init_net` lives for the kernel's lifetime; `sock` is a
        // valid out-pointer.
        to_result(unsafe {
            bindings::sock_create_kern(
                &raw mut bindings::init_net,
                AF_TIPC,
                ty as i32,
                0,
                &mut sock,
            )
        })?;
        // INVARIANT: created just above.
        Ok(Self { sock })
    }

    /// Publishes service instance `instance` of type `ty` in cluster scope.
    pub fn bind(&self, ty: u32, instance: u32) -> Result {
        let mut a = service_range(ty, instance, instance);
        // SAFETY: `a` is a valid address of the stated length for the call.
        to_result(unsafe {
            bindings::kernel_bind(
                self.sock,
                (&raw mut a).cast(),
                size_of::<bindings::sockaddr_tipc>() as i32,
            )
        })?;
        Ok(())
    }

    /// Connects to the topology service.
    pub fn connect_topology(&self) -> Result {
        let mut a = service_addr(bindings::TIPC_TOP_SRV, bindings::TIPC_TOP_SRV);
        // SAFETY: as in `bind`.
        to_result(unsafe {
            bindings::kernel_connect(
                self.sock,
                (&raw mut a).cast(),
                size_of::<bindings::sockaddr_tipc>() as i32,
                0,
            )
        })?;
        Ok(())
    }

    /// Subscribes, on a topology connection, to every publication of
    /// service type `ty`; events then arrive through [`Self::recv_event`].
    pub fn subscribe(&self, ty: u32) -> Result {
        // SAFETY: all-zero is a valid `tipc_subscr`.
        let mut sub: bindings::tipc_subscr = unsafe { zeroed() };
        sub.seq.type_ = ty;
        sub.seq.lower = 0;
        sub.seq.upper = u32::MAX;
        sub.timeout = u32::MAX; // TIPC_WAIT_FOREVER
        sub.filter = bindings::TIPC_SUB_PORTS;
        // SAFETY: `sub` is plain data valid for its size during the call.
        let bytes = unsafe {
            core::slice::from_raw_parts(
                (&raw const sub).cast::<u8>(),
                size_of::<bindings::tipc_subscr>(),
            )
        };
        self.send_raw(None, &[bytes])
    }

    /// Waits for the next topology event.
    pub fn recv_event(&self) -> Result<TopologyEvent> {
        let mut buf = [0u8; size_of::<bindings::tipc_event>()];
        let (n, _) = self.recv(&mut buf)?;
        Self::parse_event(&buf, n)
    }

    fn parse_event(
        buf: &[u8; size_of::<bindings::tipc_event>()],
        n: usize,
    ) -> Result<TopologyEvent> {
        if n != buf.len() {
            return Err(EINVAL);
        }
        // SAFETY: `buf` holds a whole `tipc_event`, plain data of any bit
        // pattern; the read is unaligned-safe.
        let ev: bindings::tipc_event = unsafe { core::ptr::read_unaligned(buf.as_ptr().cast()) };
        let kind = match ev.event {
            bindings::TIPC_PUBLISHED => EventKind::Published,
            bindings::TIPC_WITHDRAWN => EventKind::Withdrawn,
            _ => EventKind::Other,
        };
        Ok(TopologyEvent {
            kind,
            instance: ev.found_lower,
            node: ev.port.node,
            port: ev.port.ref_,
        })
    }

    /// Sends one datagram to instance `instance` of service type `ty`.
    pub fn send_to(&self, ty: u32, instance: u32, data: &[u8]) -> Result {
        self.send_raw(Some(service_addr(ty, instance)), &[data])
    }

    /// Sends one datagram made of `parts`, in order, to instance
    /// `instance` of service type `ty` (no copy into one buffer).
    pub fn send_parts_to(&self, ty: u32, instance: u32, parts: &[&[u8]]) -> Result {
        self.send_raw(Some(service_addr(ty, instance)), parts)
    }

    /// Sends one datagram to every socket bound to `ty` in `lower..=upper`
    /// on every node (reliable cluster multicast).
    pub fn multicast(&self, ty: u32, lower: u32, upper: u32, data: &[u8]) -> Result {
        self.multicast_parts(ty, lower, upper, &[data])
    }

    /// [`Self::multicast`] of a datagram made of `parts`.
    pub fn multicast_parts(&self, ty: u32, lower: u32, upper: u32, parts: &[&[u8]]) -> Result {
        let mut a = service_range(ty, lower, upper);
        a.scope = 0;
        self.send_raw(Some(a), parts)
    }

    /// Most parts of one datagram.
    const MAX_PARTS: usize = 4;

    fn send_raw(&self, addr: Option<bindings::sockaddr_tipc>, parts: &[&[u8]]) -> Result {
        if parts.len() > Self::MAX_PARTS {
            return Err(EINVAL);
        }
        let mut addr = addr;
        // SAFETY: all-zero is a valid, empty `msghdr`.
        let mut msg: bindings::msghdr = unsafe { zeroed() };
        if let Some(a) = addr.as_mut() {
            msg.msg_name = (a as *mut bindings::sockaddr_tipc).cast::<c_void>();
            msg.msg_namelen = size_of::<bindings::sockaddr_tipc>() as i32;
        }
        let mut vecs = [bindings::kvec {
            iov_base: core::ptr::null_mut(),
            iov_len: 0,
        }; Self::MAX_PARTS];
        let mut len = 0usize;
        for (v, p) in vecs.iter_mut().zip(parts) {
            *v = bindings::kvec {
                iov_base: p.as_ptr() as *mut c_void,
                iov_len: p.len(),
            };
            len = len.checked_add(p.len()).ok_or(EINVAL)?;
        }
        // SAFETY: `msg`, `addr` and the first `parts.len()` of `vecs` are
        // valid for the call, which only reads the parts.
        let n = to_result(unsafe {
            bindings::kernel_sendmsg(self.sock, &mut msg, vecs.as_mut_ptr(), parts.len(), len)
        })?;
        if n as usize != len {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Waits for one datagram; returns its length and the sending socket.
    ///
    /// A datagram longer than `buf` is truncated and reported as `EMSGSIZE`.
    pub fn recv(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        self.recv_flags(buf, 0)
    }

    /// Like [`Self::recv`], with TIPC's ancillary data in `ctl`
    /// ([`RECV_CONTROL`] bytes hold all of it): a datagram this socket
    /// sent that came back refused arrives with no bytes, its error and
    /// its first bytes in `ctl` (`proto::cmsg` decodes them). A truncated
    /// datagram is reported, not refused.
    pub fn recv_with_control(&self, buf: &mut [u8], ctl: &mut [u8]) -> Result<Received> {
        self.recv_control_flags(buf, ctl, 0)
    }

    /// Like [`Self::recv_with_control`], but gives up with `EAGAIN` after
    /// `ms` milliseconds (polls; for tests).
    pub fn recv_with_control_within(
        &self,
        buf: &mut [u8],
        ctl: &mut [u8],
        ms: u32,
    ) -> Result<Received> {
        within(ms, || {
            self.recv_control_flags(buf, ctl, bindings::MSG_DONTWAIT as i32)
        })
    }

    fn recv_control_flags(&self, buf: &mut [u8], ctl: &mut [u8], flags: i32) -> Result<Received> {
        // SAFETY: all-zero is a valid `sockaddr_tipc` and `msghdr`.
        let mut from: bindings::sockaddr_tipc = unsafe { zeroed() };
        // SAFETY: as above.
        let mut msg: bindings::msghdr = unsafe { zeroed() };
        msg.msg_name = (&raw mut from).cast();
        msg.msg_namelen = size_of::<bindings::sockaddr_tipc>() as i32;
        // A kernel buffer (`msg_control_is_user` stays 0): TIPC's
        // `put_cmsg` copies into it.
        msg.__bindgen_anon_1.msg_control = ctl.as_mut_ptr().cast();
        msg.msg_controllen = ctl.len();
        let mut vec = bindings::kvec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: `msg`, `from`, `vec` and `ctl` are valid for the call,
        // which writes at most `buf.len()` bytes to `buf` and at most
        // `ctl.len()` to `ctl`.
        let n = to_result(unsafe {
            bindings::kernel_recvmsg(self.sock, &mut msg, &mut vec, 1, buf.len(), flags)
        })?;
        // SAFETY: TIPC fills the sender as a socket address for datagrams.
        let (node, port) = unsafe { (from.addr.id.node, from.addr.id.ref_) };
        Ok(Received {
            len: n as usize,
            from: SocketAddr { node, port },
            control: ctl.len().saturating_sub(msg.msg_controllen),
            truncated: msg.msg_flags & bindings::MSG_TRUNC as u32 != 0,
        })
    }

    /// Sets the importance of what this socket sends (`TIPC_IMPORTANCE`,
    /// 0..=3): a receiving RDM socket queues `2 MB << importance` of it
    /// before it refuses more.
    pub fn set_importance(&self, importance: u32) -> Result {
        self.set_option(bindings::TIPC_IMPORTANCE, importance)
    }

    /// Whether a datagram this socket sends comes back when its receiver
    /// refuses it (`TIPC_DEST_DROPPABLE` off) rather than being dropped
    /// there, TIPC's default for connectionless sockets.
    pub fn set_returnable(&self, returnable: bool) -> Result {
        self.set_option(bindings::TIPC_DEST_DROPPABLE, u32::from(!returnable))
    }

    /// Sends this socket's multicasts as one unicast per destination node
    /// (`TIPC_MCAST_REPLICAST`), for good. Left to choose, TIPC switches
    /// between broadcast and replicast as destinations come and go, and a
    /// receiver holds every later message of the sender's socket until the
    /// switch's two SYN copies have both arrived: a copy sent over the
    /// broadcast link to a peer that had just rebooted never comes, and that
    /// peer never hears this socket's multicasts again.
    pub fn set_replicast(&self) -> Result {
        self.set_flag_option(bindings::TIPC_MCAST_REPLICAST)
    }

    /// Sets TIPC socket option `name` (level `SOL_TIPC`) to `value`.
    fn set_option(&self, name: u32, value: u32) -> Result {
        let mut val = value;
        self.setsockopt(name, (&raw mut val).cast(), size_of::<u32>() as u32)
    }

    /// Sets TIPC socket option `name`, which takes no argument.
    fn set_flag_option(&self, name: u32) -> Result {
        self.setsockopt(name, core::ptr::null_mut(), 0)
    }

    /// `setsockopt(SOL_TIPC, name)` with `len` bytes at kernel pointer `val`
    /// (null for an option without argument).
    fn setsockopt(&self, name: u32, val: *mut c_void, len: u32) -> Result {
        // SAFETY: all-zero is a valid `sockptr_t`.
        let mut opt: bindings::sockptr_t = unsafe { zeroed() };
        opt.__bindgen_anon_1.kernel = val;
        opt.set_is_kernel(true);
        // SAFETY: valid socket by the type invariant; TIPC sets `ops` at
        // creation and they live as long as the socket.
        let set = unsafe { (*(*self.sock).ops).setsockopt }.ok_or(EINVAL)?;
        // SAFETY: `opt` is null or points to `len` bytes valid for the call
        // (the callers' locals), marked as a kernel pointer; the socket is
        // valid.
        to_result(unsafe { set(self.sock, bindings::SOL_TIPC as i32, name as i32, opt, len) })?;
        Ok(())
    }

    fn recv_flags(&self, buf: &mut [u8], flags: i32) -> Result<(usize, SocketAddr)> {
        let r = self.recv_control_flags(buf, &mut [], flags)?;
        if r.truncated {
            return Err(super::errno::emsgsize());
        }
        Ok((r.len, r.from))
    }

    /// Like [`Self::recv`], but gives up with `EAGAIN` after `ms`
    /// milliseconds (polls; for tests and rare waits).
    pub fn recv_within(&self, buf: &mut [u8], ms: u32) -> Result<(usize, SocketAddr)> {
        within(ms, || self.recv_flags(buf, bindings::MSG_DONTWAIT as i32))
    }

    /// Like [`Self::recv_event`], but gives up after `ms` milliseconds.
    pub fn recv_event_within(&self, ms: u32) -> Result<TopologyEvent> {
        let mut buf = [0u8; size_of::<bindings::tipc_event>()];
        let (n, _) = self.recv_within(&mut buf, ms)?;
        Self::parse_event(&buf, n)
    }

    /// Wakes every thread blocked in [`Self::recv`] with an error, for good.
    pub fn shutdown(&self) {
        // SAFETY: valid socket by the type invariant.
        unsafe { bindings::kernel_sock_shutdown(self.sock, bindings::sock_shutdown_cmd_SHUT_RDWR) };
    }
}

/// Calls `f` (a non-blocking receive) until it gives something but
/// `EAGAIN` or `ms` milliseconds have passed, every 10 ms.
fn within<T>(ms: u32, mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let mut waited = 0;
    loop {
        match f() {
            Err(e) if e == kernel::error::code::EAGAIN && waited < ms => {
                super::kthread::sleep_ms(10);
                waited += 10;
            }
            r => return r,
        }
    }
}

impl Drop for TipcSocket {
    fn drop(&mut self) {
        // SAFETY: by the type invariant; nothing uses the socket afterwards.
        unsafe { bindings::sock_release(self.sock) };
    }
}

/// Control bytes that hold whatever TIPC adds to a received datagram: its
/// error and up to 1024 returned bytes, and its destination name.
pub const RECV_CONTROL: usize = 1280;

/// What [`TipcSocket::recv_with_control`] received.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    /// Bytes of the datagram in the buffer.
    pub len: usize,
    /// The socket it came from.
    pub from: SocketAddr,
    /// Bytes of ancillary data in the control buffer.
    pub control: usize,
    /// Longer than the buffer.
    pub truncated: bool,
}

/// `sizeof(struct cmsghdr)`.
pub const CMSG_HEADER_LEN: usize = size_of::<bindings::cmsghdr>();
/// `SOL_TIPC`, and the types of its control messages that say a
/// datagram came back: `TIPC_ERRINFO` (error, length), `TIPC_RETDATA`.
pub const SOL_TIPC: u32 = bindings::SOL_TIPC;
/// See [`SOL_TIPC`].
pub const TIPC_ERRINFO: u32 = bindings::TIPC_ERRINFO;
/// See [`SOL_TIPC`].
pub const TIPC_RETDATA: u32 = bindings::TIPC_RETDATA;
/// `TIPC_ERR_OVERLOAD`: the receiving socket's queue was full.
pub const ERR_OVERLOAD: u32 = bindings::TIPC_ERR_OVERLOAD;

/// What the topology service reported.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventKind {
    /// A matching service instance appeared.
    Published,
    /// It disappeared (withdrawn, or its node was lost).
    Withdrawn,
    /// Anything else (subscription timeout).
    Other,
}

/// One topology event.
#[derive(Clone, Copy, Debug)]
pub struct TopologyEvent {
    /// Published or withdrawn.
    pub kind: EventKind,
    /// The service instance (ssi-rs: the node id).
    pub instance: u32,
    /// The TIPC node that hosts the socket.
    pub node: TipcNode,
    /// The socket's port number.
    pub port: u32,
}

/// Whether socket `from` holds a cluster-scope publication of instance
/// `instance` of service type `ty` (a name-table lookup, no message).
pub fn published_by(ty: u32, instance: u32, from: SocketAddr) -> bool {
    // SAFETY: `init_net` lives for the kernel's lifetime; the callee only
    // reads the name table under its own locks.
    unsafe {
        bindings::tipc_name_published_by(
            &raw mut bindings::init_net,
            ty,
            instance,
            from.node,
            from.port,
        )
    }
}

/// Sets the TIPC link tolerance of every enabled bearer, in ms (50..=30000).
pub fn set_link_tolerance(ms: u32) -> Result {
    // SAFETY: `init_net` lives for the kernel's lifetime; the callee checks
    // the range and locks.
    to_result(unsafe { bindings::tipc_set_link_tolerance(&raw mut bindings::init_net, ms) })?;
    Ok(())
}
