// SPDX-License-Identifier: GPL-2.0-only
//! Reading a stream section by section, and the order rules.

use super::*;

/// Where a [`Reader`] gets its bytes.
pub trait Source {
    /// Fills `buf` completely; `Err(Truncated)` at the end of the stream.
    fn fill(&mut self, buf: &mut [u8]) -> Result<()>;
    /// Whether the stream has no byte left.
    fn at_end(&mut self) -> Result<bool>;
    /// Fills `buf` with the payload of `End` (a checkpoint's MAC): the same
    /// as `fill`, but a source that authenticates what it reads leaves
    /// these bytes out of its MAC.
    fn trailer(&mut self, buf: &mut [u8]) -> Result<()> {
        self.fill(buf)
    }
    /// Passes over `n` bytes. A source that can seek need not check that
    /// they exist: the next `fill` or `at_end` tells.
    fn skip(&mut self, mut n: usize) -> Result<()> {
        let mut scratch = [0u8; 256];
        while n > 0 {
            let k = n.min(scratch.len());
            self.fill(&mut scratch[..k])?;
            n -= k;
        }
        Ok(())
    }
}

impl Source for &[u8] {
    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        let head = self.get(..buf.len()).ok_or(Error::Truncated)?;
        buf.copy_from_slice(head);
        *self = &self[buf.len()..];
        Ok(())
    }

    fn at_end(&mut self) -> Result<bool> {
        Ok(self.is_empty())
    }
}

impl<S: Source + ?Sized> Source for &mut S {
    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        (**self).fill(buf)
    }

    fn at_end(&mut self) -> Result<bool> {
        (**self).at_end()
    }

    fn trailer(&mut self, buf: &mut [u8]) -> Result<()> {
        (**self).trailer(buf)
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        (**self).skip(n)
    }
}

/// A decoded section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Task(TaskInfo),
    Creds(Creds<'a>),
    Rlimits(Rlimits),
    Fs(FsPaths<'a>),
    Signals(Signals<'a>),
    Mm(MmLayout),
    Vma(Vma<'a>),
    Pages(PageRun, &'a [u8]),
    /// Pages left on the node that wrote the stream, to be asked for.
    Lazy(PageRun),
    Regs(Regs),
    /// The XSAVE image; its size is the destination's to check.
    Fpu(&'a [u8]),
    Thread(ThreadState),
    /// An open file.
    File(FileDesc<'a>),
    /// A section this code reads but does not restore yet.
    Unsupported(Tag),
    /// `End`, and the stream has nothing after it; a checkpoint's MAC is
    /// [`Reader::mac`].
    End,
}

/// Largest section payload, the size of the buffer [`Reader::next`] needs.
pub const MAX_SECTION: usize = 12 + MAX_RUN_PAGES as usize * PAGE;

/// Reads a stream section by section, checking every rule of this file.
pub struct Reader<S: Source> {
    src: S,
    order: Order,
    /// Page contents are passed over (`Item::Pages` with empty data): a
    /// pass that checks the stream's structure only.
    skip_pages: bool,
    /// The MAC that ended a checkpoint (zero until `End`).
    mac: [u8; MAC_LEN],
    pub header: StreamHeader,
}

impl<S: Source> Reader<S> {
    /// Reads and checks the stream header.
    pub fn new(mut src: S) -> Result<Self> {
        let mut h = [0; HEADER_LEN];
        src.fill(&mut h)?;
        let header = StreamHeader::decode(&h)?;
        Ok(Reader {
            src,
            order: Order::new(),
            skip_pages: false,
            mac: [0; MAC_LEN],
            header,
        })
    }

    /// From now on, passes over page contents (see `skip_pages`).
    pub fn skip_pages(&mut self) {
        self.skip_pages = true;
    }

    /// The MAC that ended a checkpoint, once [`Item::End`] was read; for
    /// the caller to compare with the one it computed (in constant time).
    pub fn mac(&self) -> &[u8; MAC_LEN] {
        &self.mac
    }

    /// The source, e.g. to tell where an error was found.
    pub fn source(&self) -> &S {
        &self.src
    }

    /// The next section, decoded and checked, its payload read into `buf`
    /// (at least [`MAX_SECTION`] bytes).
    pub fn next<'b>(&mut self, buf: &'b mut [u8]) -> Result<Item<'b>> {
        let mut h = [0; SECTION_LEN];
        self.src.fill(&mut h)?;
        let sec = Section::decode(&h)?;
        if sec.flags == SECTION_LAZY {
            let b = buf.get_mut(..PageRun::LEN).ok_or(Error::BadLength)?;
            self.src.fill(b)?;
            let r = PageRun::decode_run(b)?;
            self.order.next(Tag::Pages, None, Some(&r))?;
            if self.order.file_area() {
                return Err(Error::BadValue);
            }
            return Ok(Item::Lazy(r));
        }
        if sec.tag == Tag::Pages && self.skip_pages {
            let b = buf.get_mut(..PageRun::LEN).ok_or(Error::BadLength)?;
            self.src.fill(b)?;
            let r = PageRun::decode_run(b)?;
            let data = r.count as usize * PAGE;
            if sec.len as usize != PageRun::LEN + data {
                return Err(Error::BadLength);
            }
            self.src.skip(data)?;
            self.order.next(Tag::Pages, None, Some(&r))?;
            return Ok(Item::Pages(r, &[]));
        }
        if sec.tag == Tag::End {
            let n = trailer_len(self.header.purpose);
            if sec.len as usize != n {
                return Err(Error::BadLength);
            }
            let mut mac = [0; MAC_LEN];
            self.src.trailer(&mut mac[..n])?;
            if !self.src.at_end()? {
                return Err(Error::OutOfOrder);
            }
            self.order.next(Tag::End, None, None)?;
            self.mac = mac;
            return Ok(Item::End);
        }
        let b = buf.get_mut(..sec.len as usize).ok_or(Error::BadLength)?;
        self.src.fill(b)?;
        let b: &'b [u8] = b;
        let item = match sec.tag {
            Tag::Task => {
                let t = TaskInfo::decode(b)?;
                if t.pid != self.header.pid {
                    return Err(Error::BadValue);
                }
                Item::Task(t)
            }
            Tag::Creds => Item::Creds(Creds::decode(b)?),
            Tag::Rlimits => Item::Rlimits(Rlimits::decode(b)?),
            Tag::Fs => Item::Fs(FsPaths::decode(b)?),
            Tag::Signals => Item::Signals(Signals::decode(b)?),
            Tag::Mm => Item::Mm(MmLayout::decode(b)?),
            Tag::Vma => Item::Vma(Vma::decode(b)?),
            Tag::Pages => {
                let (r, data) = PageRun::decode(b)?;
                Item::Pages(r, data)
            }
            Tag::Regs => Item::Regs(Regs::decode(b)?),
            Tag::Fpu => Item::Fpu(b),
            Tag::Thread => Item::Thread(ThreadState::decode(b)?),
            Tag::File => Item::File(FileDesc::decode(b)?),
            // Read above, with its trailer.
            Tag::End => return Err(Error::OutOfOrder),
        };
        let (vma, run) = match &item {
            Item::Vma(v) => (Some(v), None),
            Item::Pages(r, _) => (None, Some(r)),
            _ => (None, None),
        };
        self.order.next(sec.tag, vma, run)?;
        Ok(item)
    }
}

/// Checks the order of a stream's sections: `Task` first and once; the
/// other single sections at most once, in tag order; areas in increasing,
/// disjoint address order; each `Pages` run inside the last area, which
/// must carry pages, after the previous run; `Regs`, `Mm` and `End`
/// required; nothing after `End`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Order {
    last: Option<Tag>,
    vma: Option<(u64, u64, bool)>,
    /// The last area is a file's.
    file: bool,
    pages_end: u64,
    seen_regs: bool,
    seen_mm: bool,
    ended: bool,
}

impl Order {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accounts for the next section (its decoded area or run if any).
    pub fn next(&mut self, tag: Tag, vma: Option<&Vma<'_>>, run: Option<&PageRun>) -> Result<()> {
        if self.ended {
            return Err(Error::OutOfOrder);
        }
        match self.last {
            None if tag != Tag::Task => return Err(Error::OutOfOrder),
            Some(last) if tag < last || (tag == last && !tag.repeats()) => {
                // Areas and their pages interleave.
                if !(tag == Tag::Vma && last == Tag::Pages) {
                    return Err(Error::OutOfOrder);
                }
            }
            _ => {}
        }
        match tag {
            Tag::Vma => {
                let v = vma.ok_or(Error::BadValue)?;
                if self.vma.is_some_and(|(_, end, _)| v.start < end) {
                    return Err(Error::OutOfOrder);
                }
                self.vma = Some((v.start, v.end, v.flags & VMA_PAGES != 0));
                self.file = v.flags & VMA_FILE != 0;
                self.pages_end = v.start;
            }
            Tag::Pages => {
                let r = run.ok_or(Error::BadValue)?;
                let (_, end, pages) = self.vma.ok_or(Error::OutOfOrder)?;
                let run_end = r.end().ok_or(Error::BadValue)?;
                if !pages || r.addr < self.pages_end || run_end > end {
                    return Err(Error::OutOfOrder);
                }
                self.pages_end = run_end;
            }
            Tag::Regs => self.seen_regs = true,
            Tag::Mm => self.seen_mm = true,
            Tag::End => {
                if !(self.seen_regs && self.seen_mm) {
                    return Err(Error::Incomplete);
                }
                self.ended = true;
            }
            _ => {}
        }
        self.last = Some(tag);
        Ok(())
    }

    /// Whether the last area is a file's (whose pages always travel).
    pub fn file_area(&self) -> bool {
        self.file
    }

    /// Whether the stream ended properly.
    pub fn done(&self) -> bool {
        self.ended
    }
}
