// SPDX-License-Identifier: GPL-2.0-only
//! Error codes that `kernel::error::code` of 6.12 lacks.

use kernel::{bindings, error::Error};

fn errno(n: u32) -> Error {
    Error::from_errno(-(n as i32))
}

/// Message too long.
pub fn emsgsize() -> Error {
    errno(bindings::EMSGSIZE)
}

/// Function (here: RPC service) not implemented.
pub fn enosys() -> Error {
    errno(bindings::ENOSYS)
}

/// Cannot send after transport endpoint shutdown.
pub fn eshutdown() -> Error {
    errno(bindings::ESHUTDOWN)
}

/// Timed out.
pub fn etimedout() -> Error {
    errno(bindings::ETIMEDOUT)
}

/// Operation already in progress / done.
pub fn ealready() -> Error {
    errno(bindings::EALREADY)
}

/// Host is down.
pub fn ehostdown() -> Error {
    errno(bindings::EHOSTDOWN)
}

/// Value too large for defined data type (here: does not fit).
pub fn eoverflow() -> Error {
    errno(bindings::EOVERFLOW)
}

/// Object is remote (here: the process runs on another node).
pub fn eremote() -> Error {
    errno(bindings::EREMOTE)
}

/// `ESPIPE`: no position (a pipe, a terminal).
pub fn espipe() -> Error {
    Error::from_errno(-29)
}

/// Required key not available (here: no ghost key on this node).
pub fn enokey() -> Error {
    errno(bindings::ENOKEY)
}

/// Key was rejected by service (here: a checkpoint whose MAC is wrong).
pub fn ekeyrejected() -> Error {
    errno(bindings::EKEYREJECTED)
}

/// No buffer space available (a receiver refused a message: its queue
/// was full).
pub fn enobufs() -> Error {
    errno(bindings::ENOBUFS)
}

/// `EOPNOTSUPP`.
pub fn eopnotsupp() -> Error {
    Error::from_errno(-95)
}

/// `ENOTCONN`.
pub fn enotconn() -> Error {
    Error::from_errno(-107)
}

/// `ENOTSOCK`.
pub fn enotsock() -> Error {
    Error::from_errno(-88)
}
