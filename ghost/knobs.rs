// SPDX-License-Identifier: GPL-2.0-only
//! The files of `/sys/kernel/ssi/ghost/` (see
//! Documentation/ABI/testing/sysfs-kernel-ssi).

use core::fmt::Write;
use core::sync::atomic::Ordering;
use kernel::{c_str, prelude::*};

use crate::kernel_ext::sysfs::{Attribute, ShowBuf};
use crate::lazy::Pages;
use crate::proto::knob;
use crate::proto::pages::MAX_FETCH;

pub(crate) static ATTRS: [Attribute<Pages>; 5] = [
    Attribute::rw(c_str!("mode"), show_mode, store_mode),
    Attribute::rw(c_str!("readahead"), show_readahead, store_readahead),
    Attribute::ro(c_str!("pages"), show_pages),
    Attribute::wo(c_str!("key"), store_key),
    Attribute::ro(c_str!("trust"), show_trust),
];

fn fmt_err(_: core::fmt::Error) -> Error {
    EINVAL
}

fn show_mode(p: &Pages, out: &mut ShowBuf<'_>) -> Result {
    let m = if p.on_demand.load(Ordering::Relaxed) {
        "on-demand"
    } else {
        "eager"
    };
    writeln!(out, "{m}").map_err(fmt_err)
}

/// `eager` or `on-demand`: how `ssi-migrate` moves pages unless told.
fn store_mode(p: &Pages, buf: &[u8]) -> Result {
    let on = match knob::strip_newline(buf) {
        b"eager" => false,
        b"on-demand" => true,
        _ => return Err(EINVAL),
    };
    p.on_demand.store(on, Ordering::Relaxed);
    Ok(())
}

fn show_readahead(p: &Pages, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", p.readahead.load(Ordering::Relaxed)).map_err(fmt_err)
}

/// Pages brought after a faulting one, `0` to `MAX_FETCH - 1`.
fn store_readahead(p: &Pages, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, MAX_FETCH - 1).map_err(|_| EINVAL)?;
    p.readahead.store(v, Ordering::Relaxed);
    Ok(())
}

fn show_pages(p: &Pages, out: &mut ShowBuf<'_>) -> Result {
    let c = &p.counts;
    let (pulling, waiting, lent) = p.census();
    let rows = [
        ("pulling", pulling as u64),
        ("waiting", waiting),
        ("lent", lent as u64),
        ("fetches", c.fetches.load(Ordering::Relaxed)),
        ("fetched", c.fetched.load(Ordering::Relaxed)),
        ("ahead_used", c.ahead_used.load(Ordering::Relaxed)),
        ("prefetched", c.prefetched.load(Ordering::Relaxed)),
        ("served", c.served.load(Ordering::Relaxed)),
        ("failed", c.failed.load(Ordering::Relaxed)),
        ("malformed", c.malformed.load(Ordering::Relaxed)),
    ];
    for (k, v) in rows {
        writeln!(out, "{k} {v}").map_err(fmt_err)?;
    }
    Ok(())
}

/// The cluster's ghost key, 64 hex digits; write-only (0200).
fn store_key(_: &Pages, buf: &[u8]) -> Result {
    crate::trust::set_key(buf)
}

fn show_trust(_: &Pages, out: &mut ShowBuf<'_>) -> Result {
    for (k, v) in crate::trust::rows() {
        writeln!(out, "{k} {v}").map_err(fmt_err)?;
    }
    Ok(())
}
