// SPDX-License-Identifier: GPL-2.0-only
//! The ghost stream: one versioned format for a process's state, written
//! and read by the same code whether it goes to another node (migration)
//! or to a file (checkpoint). See Documentation/ssi/ghost.rst.
//!
//! A stream is a 16-byte header, then sections, each an 8-byte section
//! header (tag, flags, length) and its payload, then an [`Tag::End`]
//! section, whose payload in a checkpoint is the MAC of every byte before
//! it ([`MAC_LEN`], [`end_section`]). All integers are little-endian. [`Order`] checks the order of
//! the sections and that every page lies in a mapped area; the payload
//! decoders check lengths and values. Nothing here trusts its input.

use super::codec::{self, fill, Writer};

mod cpu;
mod creds;
mod files;
mod header;
mod mm;
mod process;
mod reader;
mod signals;
#[cfg(test)]
mod tests;

pub use self::{cpu::*, creds::*, files::*, header::*, mm::*, process::*, reader::*, signals::*};

/// First bytes of a stream.
pub const MAGIC: [u8; 8] = *b"SSIGHOST";

/// Format version this code writes and reads (2: `Rlimits`, `Fs`, the
/// pending signals and lazy `Pages` runs; 3: a checkpoint's `End` carries
/// its MAC; 4: the whole credential state in `Creds`).
pub const VERSION: u16 = 4;

/// Length of the MAC (HMAC-SHA256) that ends a checkpoint: the payload of
/// its `End` section, computed over every byte of the stream before that
/// payload (the header, every section, `End`'s own section header).
pub const MAC_LEN: usize = 32;

/// Stream header size.
pub const HEADER_LEN: usize = 16;

/// Section header size.
pub const SECTION_LEN: usize = 8;

/// Page size of the pages in `Pages` sections.
pub const PAGE: usize = 4096;

/// Most pages in one `Pages` section (256 KiB of contents).
pub const MAX_RUN_PAGES: u32 = 64;

/// Lowest address a ghost may map (as `mmap_min_addr`), and the end of
/// the x86_64 user address space (47 bits).
pub const USER_MIN: u64 = 0x1_0000;

pub const USER_END: u64 = 0x7fff_ffff_f000;

/// Why a stream or section was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    Truncated,
    BadMagic,
    BadVersion,
    UnknownTag,
    /// A section longer than its kind allows, or of the wrong size.
    BadLength,
    /// A field out of range (address, count, flags).
    BadValue,
    /// A section where the order rules do not allow it.
    OutOfOrder,
    /// The stream ended without its required sections.
    Incomplete,
}

pub type Result<T> = core::result::Result<T, Error>;

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    codec::u16_at(b, at).ok_or(Error::Truncated)
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    codec::u32_at(b, at).ok_or(Error::Truncated)
}

fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    codec::u64_at(b, at).ok_or(Error::Truncated)
}

/// Longest path carried.
pub const PATH_MAX: usize = 4096;

/// Resource limits carried (`RLIM_NLIMITS`).
pub const RLIMITS: usize = 16;

/// Signal handlers carried (`_NSIG`).
pub const SIGNALS: usize = 64;

/// Registers of `struct user_regs_struct` on x86_64.
pub const REGS: usize = 27;
