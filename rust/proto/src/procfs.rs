// SPDX-License-Identifier: GPL-2.0-only
//! Merging several nodes' `/proc` system files into one cluster-wide file,
//! as unmodified `top`, `free` and `uptime` expect to read it.
//!
//! Each function takes the nodes' texts in node order and writes the merged
//! text. Input is untrusted (it crossed the network): unparsable lines are
//! skipped, sums saturate, and nothing panics.

use core::fmt::{self, Write};

fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
}

fn num(w: &[u8]) -> Option<u64> {
    if w.is_empty() || w.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in w {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// A decimal with two fractional digits ("12.34"), in hundredths.
fn hundredths(w: &[u8]) -> Option<u64> {
    let dot = w.iter().position(|&b| b == b'.')?;
    let (int, frac) = (&w[..dot], &w[dot + 1..]);
    if frac.len() != 2 {
        return None;
    }
    num(int)?.checked_mul(100)?.checked_add(num(frac)?)
}

fn text(w: &[u8]) -> &str {
    core::str::from_utf8(w).unwrap_or("?")
}

/// `Key:   value [kB]` lines: values summed over the nodes, keyed by the
/// first node's lines. Sizes that are not amounts (`Hugepagesize`) are the
/// first node's.
pub fn merge_meminfo(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let Some(first) = nodes.first() else {
        return Ok(());
    };
    for line in lines(first) {
        let mut w = words(line);
        let (Some(key), Some(_)) = (w.next(), w.next()) else {
            continue;
        };
        let kb = w.next() == Some(&b"kB"[..]);
        let mut sum: u64 = 0;
        for node in nodes {
            let v = lines(node)
                .find(|l| words(l).next() == Some(key))
                .and_then(|l| words(l).nth(1))
                .and_then(num)
                .unwrap_or(0);
            sum = if key == b"Hugepagesize:" && sum != 0 {
                sum
            } else {
                sum.saturating_add(v)
            };
        }
        if kb {
            writeln!(out, "{:<16}{:>8} kB", text(key), sum)?;
        } else {
            writeln!(out, "{:<16}{:>8}", text(key), sum)?;
        }
    }
    Ok(())
}

fn sum_columns(nodes: &[&[u8]], key: &[u8], cols: &mut [u64]) -> usize {
    let mut width = 0;
    for node in nodes {
        if let Some(l) = lines(node).find(|l| words(l).next() == Some(key)) {
            for (i, v) in words(l)
                .skip(1)
                .map(|w| num(w).unwrap_or(0))
                .enumerate()
                .take(cols.len())
            {
                cols[i] = cols[i].saturating_add(v);
                width = width.max(i + 1);
            }
        }
    }
    width
}

/// `/proc/stat`: the `cpu` line summed, every node's `cpuN` lines numbered
/// cluster-wide in node order, counters summed, `btime` the earliest.
/// `intr` keeps only its total.
pub fn merge_stat(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let mut cpu = [0u64; 10];
    let n = sum_columns(nodes, b"cpu", &mut cpu);
    write!(out, "cpu ")?;
    for v in &cpu[..n] {
        write!(out, " {v}")?;
    }
    writeln!(out)?;
    let mut index: u64 = 0;
    for node in nodes {
        for l in lines(node) {
            let mut w = words(l);
            let Some(name) = w.next() else { continue };
            if name.len() > 3 && name.starts_with(b"cpu") && num(&name[3..]).is_some() {
                write!(out, "cpu{index}")?;
                for v in w {
                    write!(out, " {}", num(v).unwrap_or(0))?;
                }
                writeln!(out)?;
                index += 1;
            }
        }
    }
    let mut intr = [0u64; 1];
    sum_columns(nodes, b"intr", &mut intr);
    writeln!(out, "intr {}", intr[0])?;
    for key in [
        &b"ctxt"[..],
        b"btime",
        b"processes",
        b"procs_running",
        b"procs_blocked",
    ] {
        let mut v = [0u64; 1];
        if key == b"btime" {
            let min = nodes
                .iter()
                .filter_map(|n| lines(n).find(|l| words(l).next() == Some(key)))
                .filter_map(|l| words(l).nth(1).and_then(num))
                .min()
                .unwrap_or(0);
            writeln!(out, "btime {min}")?;
            continue;
        }
        sum_columns(nodes, key, &mut v);
        writeln!(out, "{} {}", text(key), v[0])?;
    }
    let mut softirq = [0u64; 16];
    let n = sum_columns(nodes, b"softirq", &mut softirq);
    write!(out, "softirq")?;
    for v in &softirq[..n] {
        write!(out, " {v}")?;
    }
    writeln!(out)
}

/// `/proc/loadavg`: loads and task counts summed, the highest last PID.
pub fn merge_loadavg(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let (mut load, mut running, mut total, mut last) = ([0u64; 3], 0u64, 0u64, 0u64);
    for node in nodes {
        let Some(l) = lines(node).next() else {
            continue;
        };
        let w: [Option<&[u8]>; 5] = {
            let mut it = words(l);
            [it.next(), it.next(), it.next(), it.next(), it.next()]
        };
        for i in 0..3 {
            load[i] = load[i].saturating_add(w[i].and_then(hundredths).unwrap_or(0));
        }
        if let Some(rt) = w[3] {
            let mut p = rt.split(|&b| b == b'/');
            running = running.saturating_add(p.next().and_then(num).unwrap_or(0));
            total = total.saturating_add(p.next().and_then(num).unwrap_or(0));
        }
        last = last.max(w[4].and_then(num).unwrap_or(0));
    }
    writeln!(
        out,
        "{}.{:02} {}.{:02} {}.{:02} {}/{} {}",
        load[0] / 100,
        load[0] % 100,
        load[1] / 100,
        load[1] % 100,
        load[2] / 100,
        load[2] % 100,
        running,
        total,
        last
    )
}

/// `/proc/uptime`: the oldest node's uptime, the sum of idle times.
pub fn merge_uptime(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let (mut up, mut idle) = (0u64, 0u64);
    for node in nodes {
        let Some(l) = lines(node).next() else {
            continue;
        };
        let mut w = words(l);
        up = up.max(w.next().and_then(hundredths).unwrap_or(0));
        idle = idle.saturating_add(w.next().and_then(hundredths).unwrap_or(0));
    }
    writeln!(
        out,
        "{}.{:02} {}.{:02}",
        up / 100,
        up % 100,
        idle / 100,
        idle % 100
    )
}

/// `/proc/cpuinfo`: every node's CPUs in node order, `processor` numbered
/// cluster-wide as in `/proc/stat`; other lines as the nodes wrote them.
pub fn merge_cpuinfo(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let mut cpu: u64 = 0;
    for node in nodes {
        for line in node.split_inclusive(|&b| b == b'\n') {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let mut w = body.splitn(2, |&b| b == b':');
            let key = w.next().unwrap_or_default();
            if key.trim_ascii_end() == b"processor" && w.next().is_some() {
                writeln!(out, "{}: {}", text(key), cpu)?;
                cpu = cpu.saturating_add(1);
            } else {
                writeln!(out, "{}", text(body))?;
            }
        }
    }
    Ok(())
}

/// What `sysinfo(2)` reports, as the cluster-wide `/proc/meminfo`,
/// `/proc/loadavg` and `/proc/uptime` (the output of [`merge_meminfo`],
/// [`merge_loadavg`] and [`merge_uptime`]) tell it, so that a program that
/// mixes the syscall and the files sees one machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sysinfo {
    /// Seconds, rounded up as the kernel rounds its own.
    pub uptime: u64,
    /// The three loads in 1/65536 (`SI_LOAD_SHIFT`), the smallest values
    /// that a reader truncating to hundredths prints as `/proc/loadavg`.
    pub loads: [u64; 3],
    /// Memory in kB (`mem_unit` 1024): `MemTotal`, `MemFree`, `Shmem`,
    /// `Buffers`, `SwapTotal`, `SwapFree`, `HighTotal`, `HighFree`.
    pub totalram: u64,
    pub freeram: u64,
    pub sharedram: u64,
    pub bufferram: u64,
    pub totalswap: u64,
    pub freeswap: u64,
    pub totalhigh: u64,
    pub freehigh: u64,
    /// Threads, the total of `/proc/loadavg`'s fourth field (saturated).
    pub procs: u16,
}

/// `Sysinfo::loads`' unit: `1 << SI_LOAD_SHIFT`.
const SI_LOAD_ONE: u64 = 1 << 16;

/// Reads [`Sysinfo`] from the three merged files; `None` if one lacks a
/// value that `sysinfo(2)` cannot do without (`MemTotal`, the loads, the
/// task counts, the uptime). Lines absent on this architecture (`HighTotal`)
/// count as 0.
pub fn sysinfo(meminfo: &[u8], loadavg: &[u8], uptime: &[u8]) -> Option<Sysinfo> {
    let kb = |key: &[u8]| {
        lines(meminfo)
            .find(|l| words(l).next() == Some(key))
            .and_then(|l| words(l).nth(1))
            .and_then(num)
    };
    let mut w = words(lines(loadavg).next()?);
    let mut loads = [0u64; 3];
    for l in &mut loads {
        // ceil(h * 65536 / 100): truncated back to hundredths it is h.
        let h = hundredths(w.next()?)?;
        *l = h.checked_mul(SI_LOAD_ONE)?.div_ceil(100);
    }
    let mut tasks = w.next()?.split(|&b| b == b'/');
    let (_running, threads) = (num(tasks.next()?)?, num(tasks.next()?)?);
    let up = hundredths(words(lines(uptime).next()?).next()?)?;
    Some(Sysinfo {
        uptime: up.div_ceil(100),
        loads,
        totalram: kb(b"MemTotal:")?,
        freeram: kb(b"MemFree:").unwrap_or(0),
        sharedram: kb(b"Shmem:").unwrap_or(0),
        bufferram: kb(b"Buffers:").unwrap_or(0),
        totalswap: kb(b"SwapTotal:").unwrap_or(0),
        freeswap: kb(b"SwapFree:").unwrap_or(0),
        totalhigh: kb(b"HighTotal:").unwrap_or(0),
        freehigh: kb(b"HighFree:").unwrap_or(0),
        procs: u16::try_from(threads).unwrap_or(u16::MAX),
    })
}

/// A [`Write`] into a fixed buffer, for merging into memory rather than
/// into a `seq_file`: fails, keeping what fitted, once the buffer is full.
pub struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceWriter<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// What was written.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The owner of a process (effective uid and gid) from its
/// `/proc/<pid>/status`, as `/proc/<pid>` shows it.
pub fn owner(status: &[u8]) -> Option<(u32, u32)> {
    let field = |key: &[u8]| {
        lines(status)
            .find(|l| words(l).next() == Some(key))
            .and_then(|l| words(l).nth(2))
            .and_then(num)
            .and_then(|v| u32::try_from(v).ok())
    };
    Some((field(b"Uid:")?, field(b"Gid:")?))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::String;

    const MEM1: &[u8] = b"MemTotal:         500000 kB\nMemFree:          400000 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n";
    const MEM2: &[u8] = b"MemTotal:         300000 kB\nMemFree:          100000 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n";

    #[test]
    fn meminfo_sums() {
        let mut s = String::new();
        merge_meminfo(&[MEM1, MEM2], &mut s).unwrap();
        assert!(s.contains("MemTotal:         800000 kB\n"), "{s}");
        assert!(s.contains("MemFree:          500000 kB\n"));
        assert!(s.contains("Hugepagesize:       2048 kB\n"));
        assert!(s.contains("HugePages_Total:       0\n"), "{s}");
    }

    #[test]
    fn stat_renumbers_cpus() {
        let a = b"cpu  1 2 3 4 5 6 7 0 0 0\ncpu0 1 1 1 1 1 1 1 0 0 0\ncpu1 0 1 2 3 4 5 6 0 0 0\nintr 100 5 6\nctxt 10\nbtime 1000\nprocesses 5\nprocs_running 1\nprocs_blocked 0\nsoftirq 7 1 2\n";
        let b = b"cpu  10 20 30 40 50 60 70 0 0 0\ncpu0 10 20 30 40 50 60 70 0 0 0\nintr 1 1\nctxt 5\nbtime 900\nprocesses 2\nprocs_running 2\nprocs_blocked 1\nsoftirq 3 1 1\n";
        let mut s = String::new();
        merge_stat(&[a, b], &mut s).unwrap();
        assert!(s.starts_with("cpu  11 22 33 44 55 66 77 0 0 0\n"), "{s}");
        assert!(s.contains("cpu0 1 1 1 1 1 1 1 0 0 0\ncpu1 0 1 2 3 4 5 6 0 0 0\ncpu2 10 20 30"));
        assert!(s.contains("intr 101\n") && s.contains("ctxt 15\n") && s.contains("btime 900\n"));
        assert!(s.contains("procs_running 3\n") && s.contains("softirq 10 2 3\n"));
    }

    #[test]
    fn loadavg_and_uptime() {
        let mut s = String::new();
        merge_loadavg(
            &[b"0.50 1.25 2.00 1/40 300\n", b"1.50 0.75 0.05 2/60 500\n"],
            &mut s,
        )
        .unwrap();
        assert_eq!(s, "2.00 2.00 2.05 3/100 500\n");
        let mut s = String::new();
        merge_uptime(&[b"100.50 150.25\n", b"90.00 170.75\n"], &mut s).unwrap();
        assert_eq!(s, "100.50 321.00\n");
    }

    #[test]
    fn cpuinfo_renumbers() {
        let a = b"processor\t: 0\nvendor_id\t: X\n\nprocessor\t: 1\nvendor_id\t: X\n\n";
        let b = b"processor\t: 0\nflags\t\t: fpu processor\n\n";
        let mut s = String::new();
        merge_cpuinfo(&[a, b], &mut s).unwrap();
        assert_eq!(
            s,
            "processor\t: 0\nvendor_id\t: X\n\nprocessor\t: 1\nvendor_id\t: X\n\nprocessor\t: 2\nflags\t\t: fpu processor\n\n"
        );
    }

    #[test]
    fn owner_is_effective_ids() {
        let st = b"Name:\tsleep\nUid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\n";
        assert_eq!(owner(st), Some((1001, 101)));
        assert_eq!(owner(b"Uid:\t1\n"), None);
    }

    #[test]
    fn sysinfo_from_merged_files() {
        let (mut mem, mut load, mut up) = (String::new(), String::new(), String::new());
        let m1 = b"MemTotal:  500000 kB\nMemFree:  400000 kB\nBuffers:  1000 kB\nShmem:  30 kB\nSwapTotal:  0 kB\nSwapFree:  0 kB\n";
        let m2 = b"MemTotal:  300000 kB\nMemFree:  100000 kB\nBuffers:  500 kB\nShmem:  20 kB\nSwapTotal:  8 kB\nSwapFree:  4 kB\n";
        merge_meminfo(&[m1, m2], &mut mem).unwrap();
        merge_loadavg(
            &[b"0.05 0.99 2.00 1/40 300\n", b"0.05 0.00 0.01 2/60 500\n"],
            &mut load,
        )
        .unwrap();
        merge_uptime(&[b"100.50 150.25\n", b"90.00 170.75\n"], &mut up).unwrap();
        let s = sysinfo(mem.as_bytes(), load.as_bytes(), up.as_bytes()).unwrap();
        assert_eq!(
            s,
            Sysinfo {
                uptime: 101,
                loads: [6554, 64881, 131728],
                totalram: 800000,
                freeram: 500000,
                sharedram: 50,
                bufferram: 1500,
                totalswap: 8,
                freeswap: 4,
                totalhigh: 0,
                freehigh: 0,
                procs: 100,
            }
        );
        // BusyBox's uptime prints a load as ((x & 0xffff) * 100) >> 16.
        for (x, h) in s.loads.iter().zip([10u64, 99, 1]) {
            assert_eq!(((x & 0xffff) * 100) >> 16, h);
        }
        let many = sysinfo(mem.as_bytes(), b"0.00 0.00 0.00 1/70000 9\n", up.as_bytes()).unwrap();
        assert_eq!(many.procs, u16::MAX);
    }

    #[test]
    fn sysinfo_refuses_what_it_cannot_read() {
        let (mem, load, up) = (
            &b"MemTotal: 8 kB\n"[..],
            &b"0.00 0.00 0.00 1/2 3\n"[..],
            &b"1.00 2.00\n"[..],
        );
        assert!(sysinfo(mem, load, up).is_some());
        assert_eq!(sysinfo(b"MemFree: 8 kB\n", load, up), None);
        assert_eq!(sysinfo(mem, b"0.00 0.00 1/2 3\n", up), None);
        assert_eq!(sysinfo(mem, b"0.00 0.00 0.00 12 3\n", up), None);
        assert_eq!(
            sysinfo(mem, b"99999999999999999999.00 0.00 0.00 1/2 3\n", up),
            None
        );
        assert_eq!(sysinfo(mem, load, b""), None);
        assert_eq!(sysinfo(mem, load, b"-1.00 2.00\n"), None);
    }

    #[test]
    fn slice_writer_stops_when_full() {
        let mut buf = [0u8; 8];
        let mut w = SliceWriter::new(&mut buf);
        assert!(write!(w, "1234").is_ok());
        assert!(write!(w, "56789").is_err());
        assert_eq!(w.written(), b"1234");
        assert!(write!(w, "5678").is_ok());
        assert_eq!(w.written(), b"12345678");
    }

    proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(any::<u8>(), 0..200),
                        b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut s = String::new();
            let _ = merge_meminfo(&[&a, &b], &mut s);
            let _ = merge_stat(&[&a, &b], &mut s);
            let _ = merge_loadavg(&[&a, &b], &mut s);
            let _ = merge_uptime(&[&a, &b], &mut s);
            let _ = merge_cpuinfo(&[&a, &b], &mut s);
            let _ = owner(&a);
            let _ = sysinfo(&a, &b, &a);
            let mut buf = [0u8; 64];
            let _ = merge_meminfo(&[&a, &b], &mut SliceWriter::new(&mut buf));
        }
    }
}
