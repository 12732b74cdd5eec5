// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs dynamic streams: pipes whose ends follow migrating processes,
//! with the data going straight between the nodes that run the ends
//! (Documentation/ssi/dynstreams.rst).
//!
//! The module is the stream carrier of `ssi.ko` (`rust/ssi_streams.rs`):
//! the ghost module asks it for the token of each pipe end a migrating
//! process holds, and for a file from a token on the destination. A pipe
//! stays on its anchor, the node where an end still runs (`anchor.rs`);
//! a migrated end is a proxy file that talks to the anchor (`proxy.rs`);
//! back on the anchor it is the pipe end itself again.
//! `/sys/kernel/ssi/dynstreams/` shows the bytes carried (`stats`) and
//! the anchor's handles (`streams`).

use core::fmt::Write;
use kernel::{c_str, prelude::*};

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;
#[path = "../rust/proto/kernel.rs"]
mod proto;
#[path = "../rust/ssi_api.rs"]
mod ssi_api;
#[path = "../rust/ssi_streams.rs"]
mod ssi_streams;

mod anchor;
mod nodes;
mod proxy;
mod stats;

use kernel_ext::{
    file::FdFile,
    sysfs::{Attribute, ShowBuf, SysfsDir, SysfsParent},
};
use proto::dynstreams::{Source, Token};
use stats::STATS;

module! {
    type: Dynstreams,
    name: "ssi_dynstreams",
    author: "ssi-rs",
    description: "ssi-rs dynamic streams: pipes that follow migrating endpoints",
    license: "GPL",
}

/// The stream carrier: pipe ends that run here (anchor) and proxies.
struct Carrier;

impl ssi_streams::Carrier for Carrier {
    fn describe(&self, f: &FdFile, pid: u32, fd: u32, tok: &mut [u8]) -> Result<(usize, u8)> {
        match proxy::of(f) {
            Some(p) => p.describe(tok),
            None => anchor::describe(f, pid, fd, tok),
        }
    }

    fn attach(&self, tok: &[u8], flags: u32) -> Result<FdFile> {
        let t = Token::decode(tok).ok_or(EINVAL)?;
        if let Source::Move { .. } = t.source {
            if t.anchor == nodes::me() {
                return Err(EINVAL);
            }
            return anchor::arrive(&t, flags);
        }
        if t.anchor == nodes::me() {
            anchor::local(&t)
        } else {
            proxy::open(&t, flags)
        }
    }
}

static CARRIER: Carrier = Carrier;

/// The view: each node's generation, bumped when it leaves; then that
/// node's proxies wake.
static DEPARTED: ssi_api::Departures = ssi_api::Departures::new(proxy::node_left);

fn show_stats(a: &anchor::Anchor, out: &mut ShowBuf<'_>) -> Result {
    let s = &STATS;
    writeln!(
        out,
        "anchor_read {}\nanchor_written {}\nproxy_read {}\nproxy_written {}\nmoved_out {}\nmoved_in {}\nhandles {}\nproxies {}\nmalformed {}\nrefused {}\nsock_read {}\nsock_written {}\nsock_proxies {}\nsock_ctrunc {}",
        stats::get(&s.anchor_read),
        stats::get(&s.anchor_written),
        stats::get(&s.proxy_read),
        stats::get(&s.proxy_written),
        stats::get(&s.moved_out),
        stats::get(&s.moved_in),
        a.handles(),
        stats::get(&s.proxies_made).saturating_sub(stats::get(&s.proxies_released)),
        stats::get(&s.malformed),
        stats::get(&s.refused),
        stats::get(&s.sock_read),
        stats::get(&s.sock_written),
        stats::get(&s.sock_proxies),
        stats::get(&s.sock_ctrunc),
    )
    .map_err(|_| EINVAL)
}

fn show_streams(a: &anchor::Anchor, out: &mut ShowBuf<'_>) -> Result {
    a.show(out).map_err(|_| EINVAL)
}

static ATTRS: [Attribute<anchor::Anchor>; 2] = [
    Attribute::ro(c_str!("stats"), show_stats),
    Attribute::ro(c_str!("streams"), show_streams),
];

struct Dynstreams {
    // Dropped first: the ghost module gets no token or file any more.
    _carrier: ssi_streams::Registration,
    _sysfs: SysfsDir<anchor::Anchor>,
    _anchor: anchor::Running,
    _watch: ssi_api::ListenerRegistration,
    // Last: the service and the listener reach it.
    _proxies: proxy::Running,
}

impl kernel::Module for Dynstreams {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let proxies = proxy::Running::start()?;
        let watch = ssi_api::register_listener(&DEPARTED)?;
        let running = anchor::Running::start(proxy::ready)?;
        let parent = SysfsParent::ssi().ok_or(ENODEV)?;
        let sysfs = SysfsDir::new_in(parent, c_str!("dynstreams"), &ATTRS, running.anchor())?;
        let carrier = ssi_streams::register(&CARRIER)?;
        pr_info!("loaded on node {}\n", nodes::me());
        Ok(Dynstreams {
            _carrier: carrier,
            _sysfs: sysfs,
            _anchor: running,
            _watch: watch,
            _proxies: proxies,
        })
    }
}
