// SPDX-License-Identifier: GPL-2.0-only
//! Fuzzes every decoder of `ssi-proto` with arbitrary bytes: the message
//! header (whole, or of a message TIPC gave back), TIPC's control data of
//! a returned message, the knob parsers, the ghost stream reader, the
//! requests of the devices, message queue, remote-file, task, migration and page
//! services, the coherence protocol's messages (fed to a directory and a
//! copy), the scheduler's probes and settings, `/proc/<pid>/ssi`, the ghost stream's
//! credentials section, the ghost ioctls'
//! argument blocks, the `/proc` mergers and a membership view. Nothing may
//! panic, and whatever decodes must encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssi_proto::{
    cmsg, dev, dsm, dynstreams as ds, ghost, ghost_ioctl, ipc, knob, membership, migrate, pages,
    proc_ssi, procfs, rfile, sched, task, wire,
};

fuzz_target!(|data: &[u8]| {
    if let Ok((h, payload)) = wire::decode(data) {
        let mut out = vec![0u8; data.len()];
        let n = wire::encode(&h, payload, &mut out).expect("decoded message re-encodes");
        assert_eq!(&out[..n], data);
    }
    returned(data);
    knobs(data);
    ghost_stream(data);
    services(data);
    views(data);
    ioctls(data);
    let _ = procfs::owner(data);
    let halves = data.split_at(data.len() / 2);
    let nodes: [&[u8]; 2] = [halves.0, halves.1];
    let mut s = String::new();
    let _ = procfs::merge_meminfo(&nodes, &mut s);
    let _ = procfs::merge_stat(&nodes, &mut s);
    let _ = procfs::merge_loadavg(&nodes, &mut s);
    let _ = procfs::merge_uptime(&nodes, &mut s);
    let _ = procfs::merge_cpuinfo(&nodes, &mut s);
    // sysinfo(2) reads back merged files: merge what came in, then read.
    let (mut mem, mut load, mut up) = ([0u8; 4096], [0u8; 256], [0u8; 256]);
    let (mut m, mut l, mut u) = (
        procfs::SliceWriter::new(&mut mem),
        procfs::SliceWriter::new(&mut load),
        procfs::SliceWriter::new(&mut up),
    );
    let _ = procfs::merge_meminfo(&nodes, &mut m);
    let _ = procfs::merge_loadavg(&nodes, &mut l);
    let _ = procfs::merge_uptime(&nodes, &mut u);
    let _ = procfs::sysinfo(m.written(), l.written(), u.written());
    let _ = procfs::sysinfo(halves.0, halves.1, data);
});

/// A message TIPC gave back refused: its control data, and its header
/// (the message's first bytes only).
fn returned(data: &[u8]) {
    if let Ok(h) = wire::decode_returned(data) {
        // A returned message's header is a whole message's header.
        if let Ok((full, _)) = wire::decode(data) {
            assert_eq!(full, h);
        }
    }
    if let Some(r) = cmsg::returned(data) {
        assert!(r.data.len() <= data.len());
    }
}

fn knobs(data: &[u8]) {
    let _ = knob::parse_add(data);
    let _ = knob::parse_remove(data);
    let _ = knob::parse_key(data);
    let _ = knob::parse_failure_timeout(data);
    let mut f = [0u32; 3];
    let _ = knob::parse_fields(data, &mut f);
}

/// A ghost stream: read until an error or its end, never a panic.
fn ghost_stream(data: &[u8]) {
    // A credentials section: whatever decodes encodes back to the same
    // bytes.
    if let Ok(c) = ghost::Creds::decode(data) {
        let groups: Vec<u32> = c.groups().collect();
        let mut out = vec![0u8; data.len()];
        let n = ghost::Creds::encode(&c.head, &groups, &mut out).expect("decoded creds re-encode");
        assert_eq!(&out[..n], data);
    }
    let mut src = data;
    if let Ok(mut r) = ghost::Reader::new(&mut src) {
        let mut buf = vec![0u8; ghost::MAX_SECTION];
        while let Ok(item) = r.next(&mut buf) {
            if item == ghost::Item::End {
                // Only a checkpoint carries a MAC, of its one length.
                let n = ghost::trailer_len(r.header.purpose);
                assert!(n == 0 || n == ghost::MAC_LEN);
                let _ = r.mac();
                break;
            }
        }
    }
}

/// The RPC services' requests and answers.
fn services(data: &[u8]) {
    if let Some(r) = dev::Request::decode(data) {
        let mut out = vec![0u8; dev::MAX_REQUEST];
        let n = r
            .encode(&mut out)
            .expect("decoded device request re-encodes");
        assert_eq!(&out[..n], data);
    }
    let _ = dev::decode_u32(data);
    if let Some(r) = ipc::Request::decode(data) {
        let mut out = vec![0u8; ipc::MAX_REQUEST];
        let n = r
            .encode(&mut out)
            .expect("decoded queue request re-encodes");
        assert_eq!(&out[..n], data);
    }
    if let Some(st) = ipc::Stat::decode(data) {
        let mut out = [0u8; ipc::STAT_LEN];
        assert_eq!(st.encode(&mut out), Some(data.len()));
        assert_eq!(&out[..], data);
    }
    if let Some(st) = ipc::ShmStat::decode(data) {
        let mut out = [0u8; ipc::SHM_STAT_LEN];
        assert_eq!(st.encode(&mut out), Some(data.len()));
        assert_eq!(&out[..], data);
    }
    for cmd in [ipc::IPC_STAT, ipc::GETALL, ipc::GETVAL] {
        if let Some(a) = ipc::SemAnswer::decode(cmd, data) {
            let mut out = vec![0u8; ipc::MAX_SEM_ANSWER];
            assert_eq!(a.encode(&mut out), Some(data.len()));
            assert_eq!(&out[..data.len()], data);
        }
    }
    if let Some(r) = rfile::Request::decode(data) {
        let mut out = vec![0u8; rfile::MAX_REQUEST];
        let n = r.encode(&mut out).expect("decoded file request re-encodes");
        assert_eq!(&out[..n], data);
    }
    if let Some(i) = rfile::Info::decode(data) {
        assert_eq!(&i.encode()[..], data);
    }
    let _ = rfile::decode_u32(data);
    let _ = rfile::decode_pos(data);
    dynstreams(data);
    if let Some(m) = migrate::Msg::decode(data) {
        if !matches!(m, migrate::Msg::Data { .. }) {
            let mut out = [0u8; migrate::MAX_SMALL];
            let n = m.encode(&mut out);
            assert_eq!(&out[..n], data);
        }
    }
    match migrate::decode_where(data) {
        Some(migrate::Whereabouts::Ended(s)) => assert_eq!(&migrate::ended(s)[..], data),
        Some(migrate::Whereabouts::Went(n)) => assert_eq!(&migrate::went(n)[..], data),
        Some(migrate::Whereabouts::Here) => assert!(data.is_empty()),
        None => {}
    }
    if let Some(m) = pages::Msg::decode(data) {
        let mut out = [0u8; pages::MAX_MSG];
        let n = m.encode(&mut out);
        assert_eq!(&out[..n], data);
    }
    coherence(data);
    if let Some(m) = sched::Msg::decode(data) {
        let mut out = [0u8; sched::MAX_MSG];
        let n = m.encode(&mut out);
        assert_eq!(&out[..n], data);
    }
    if let Some(r) = sched::Retiring::decode(data) {
        let mut out = [0u8; sched::MAX_RETIRING];
        let n = r.encode(&mut out);
        assert_eq!(&out[..n], data);
    }
    let _ = sched::Policy::parse(data);
    let _ = sched::TaskStat::parse(data);
    if let Some(r) = task::PidsRequest::decode(data) {
        assert_eq!(&r.encode()[..], data);
    }
    if let Some(r) = task::TaskRequest::decode(data) {
        assert_eq!(&r.encode()[..], data);
    }
    if let Some(k) = task::Kill::decode(data) {
        assert_eq!(&k.encode()[..], data);
    }
    if let Some(p) = proc_ssi::ProcSsi::parse(data) {
        let mut out = [0u8; proc_ssi::MAX_LEN];
        let mut w = procfs::SliceWriter::new(&mut out);
        p.write(&mut w).unwrap();
        assert_eq!(w.written(), data);
    }
    // The answers, to the requests the first bytes make.
    if data.len() >= 6 {
        let (req, answer) = data.split_at(6);
        let pids = task::PidsRequest {
            from: u32::from_le_bytes([req[0], req[1], req[2], req[3]]),
            max: u16::from_le_bytes([req[4], req[5]]),
        };
        if let Some(it) = task::decode_pids(answer, &pids) {
            assert!(it.count() <= usize::from(pids.max));
        }
        let tasks = task::TaskRequest {
            pid: pids.from,
            count: req[4],
        };
        if let Some(it) = task::decode_tasks(answer, &tasks) {
            assert!(it.count() <= usize::from(tasks.count));
        }
    }
}

/// A coherence message: whatever decodes encodes back to the same header,
/// and a directory or a copy that receives it (in any state the message's
/// own bytes reach) refuses it or answers, never panics.
fn coherence(data: &[u8]) {
    let Some((m, payload)) = dsm::Msg::decode(data) else {
        return;
    };
    let mut out = [0u8; dsm::MAX_HEAD];
    let n = m.encode(&mut out);
    assert_eq!(&out[..n], &data[..data.len() - payload.len()]);
    assert!(payload.len() <= dsm::MAX_OBJECT);
    let obj = m.obj();
    let from = (m.req() & 0xff) as u8;
    let mut home = dsm::Home::<4>::new(obj);
    let mut copy = dsm::Copy::new(obj, 1);
    // A few requests first, from the nodes the request id names.
    for b in m.req().to_le_bytes() {
        let _ = copy.access(b & 1 != 0);
        let req = dsm::Msg::ReadReq { obj, req: 0 };
        let _ = home.on_msg(b >> 1, req);
    }
    if m.to_home() {
        if let Ok(o) = home.on_msg(from, m) {
            assert!(o.sends().count() <= 256);
        }
    } else if let Ok(o) = copy.on_msg(from, m) {
        assert!(o.sends().count() <= 2);
    }
    assert!(home.waiting() <= 4);
}

/// A view message as `ssi.ko`'s membership receives it.
fn views(data: &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let Ok(bytes) = <&[u8; membership::VIEW_LEN]>::try_from(rest) else {
        return;
    };
    let members = membership::NodeSet::from_bytes(bytes);
    assert_eq!(&members.to_bytes(), bytes);
    let mut m = membership::Membership::new(head[0].max(1));
    let _ = m.peer_up(head[1]);
    let view = membership::View {
        epoch: u64::from(head[1]),
        coord: head[1],
        members,
    };
    let _ = m.on_view(head[1], view);
}

/// The ghost ioctls' argument blocks: whatever a caller passes decodes, and
/// a block whose reason is known encodes back to the same bytes.
fn ioctls(data: &[u8]) {
    use ghost_ioctl::{DumpArg, GetFdArg, MigrateArg, Reason, RestoreArg};
    if let Ok(b) = <&[u8; DumpArg::LEN]>::try_from(data) {
        let a = DumpArg::decode(b);
        let _ = DumpArg::request(b);
        if a.reason as u32 == u32::from_le_bytes([b[12], b[13], b[14], b[15]]) {
            assert_eq!(&a.encode(), b);
        }
    }
    if let Ok(b) = <&[u8; RestoreArg::LEN]>::try_from(data) {
        let r = RestoreArg::decode(b);
        let m = MigrateArg::decode(b);
        let g = GetFdArg::decode(b);
        let _ = (
            RestoreArg::request(b),
            MigrateArg::request(b),
            GetFdArg::request(b),
        );
        if b[20..] == [0; 4] {
            assert_eq!(&g.encode(), b);
        }
        if r.reason != Reason::None || b[8..12] == [0; 4] {
            assert_eq!(&r.encode(), b);
        }
        if m.reason != Reason::None || b[12..16] == [0; 4] {
            assert_eq!(&m.encode(), b);
        }
    }
}

/// The dynamic streams' requests, answers and tokens.
fn dynstreams(data: &[u8]) {
    if let Some(r) = ds::Request::decode(data) {
        let mut out = vec![0u8; ds::MAX_REQUEST];
        let n = r
            .encode(&mut out)
            .expect("decoded stream request re-encodes");
        assert_eq!(&out[..n], data);
    }
    if let Some(t) = ds::Token::decode(data) {
        let mut out = [0u8; ds::TOKEN_MAX];
        let n = t.encode(&mut out).expect("decoded token re-encodes");
        assert_eq!(&out[..n], data);
    }
    if let Some(a) = ds::Attached::decode(data) {
        assert_eq!(&a.encode()[..], data);
    }
    if let Some(m) = ds::moving::Moved::decode(data) {
        let mut out = vec![0u8; ds::moving::MOVED_MAX];
        let n = m.encode(&mut out).expect("decoded move re-encodes");
        assert_eq!(&out[..n], data);
    }
    if let Some(w) = ds::moving::Where::decode(data) {
        assert_eq!(&w.encode()[..], data);
    }
    let _ = ds::decode_read_answer(data, 0, ds::MAX_IO as u32);
    let _ = ds::decode_written(data, ds::MAX_IO);
}
