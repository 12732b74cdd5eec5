// SPDX-License-Identifier: GPL-2.0-only
//! Round trips of every message, every malformed input refused, and the
//! cursors' decisions.

use super::cursor::{ReadCursor, ReadStep, WriteCursor};
use super::*;

const AT: At = At {
    export: 7,
    handle: 9,
};

fn tokens() -> [Token; 3] {
    [
        Token {
            end: End::Read,
            anchor: 1,
            source: Source::Fd { pid: 16385, fd: 3 },
        },
        Token {
            end: End::Write,
            anchor: 4,
            source: Source::Handle {
                export: 7,
                handle: 9,
                seq: 1 << 40,
                wseq: 0,
            },
        },
        Token {
            end: End::Both,
            anchor: 2,
            source: Source::Handle {
                export: 7,
                handle: 9,
                seq: 3,
                wseq: 1 << 41,
            },
        },
    ]
}

#[test]
fn tokens_round_trip() {
    for t in tokens() {
        let mut b = [0u8; TOKEN_MAX];
        let n = t.encode(&mut b).unwrap();
        assert_eq!(Token::decode(&b[..n]), Some(t));
        for cut in 0..n {
            assert_eq!(Token::decode(&b[..cut]), None, "cut at {}", cut);
        }
        let mut long = [0u8; TOKEN_MAX + 1];
        long[..n].copy_from_slice(&b[..n]);
        assert_eq!(Token::decode(&long[..n + 1]), None);
    }
}

#[test]
fn bad_tokens_refused() {
    let mut b = [0u8; TOKEN_MAX];
    let t = tokens()[0];
    let n = t.encode(&mut b).unwrap();
    for (at, v) in [(0, 2), (1, 0), (1, 4), (2, 0), (3, 4)] {
        let mut c = b;
        c[at] = v;
        assert_eq!(Token::decode(&c[..n]), None, "byte {} = {}", at, v);
    }
    // PID 0, a PID above i32::MAX, an fd too high.
    for (pid, fd) in [(0, 1), (1 << 31, 1), (5, MAX_FD)] {
        let t = Token {
            source: Source::Fd { pid, fd },
            ..t
        };
        let n = t.encode(&mut b).unwrap();
        assert_eq!(Token::decode(&b[..n]), None);
    }
    let h = Token {
        source: Source::Handle {
            export: 0,
            handle: 1,
            seq: 0,
            wseq: 0,
        },
        ..t
    };
    let n = h.encode(&mut b).unwrap();
    assert_eq!(Token::decode(&b[..n]), None);
    // A pipe's end carries no write number.
    let p = Token {
        source: Source::Handle {
            export: 1,
            handle: 1,
            seq: 0,
            wseq: 5,
        },
        ..t
    };
    assert_eq!(p.encode(&mut b), None);
}

fn requests(data: &[u8]) -> [Request<'_>; 10] {
    let [a, b, c] = tokens();
    [
        Request::Attach {
            token: a,
            uid: 1000,
            gid: 1000,
            privileged: false,
        },
        Request::Attach {
            token: b,
            uid: 0,
            gid: 0,
            privileged: true,
        },
        Request::Read {
            at: AT,
            seq: 5,
            count: MAX_IO as u32,
        },
        Request::Write {
            at: AT,
            seq: 6,
            data,
        },
        Request::Detach { at: AT },
        Request::Watch {
            at: AT,
            proxy: 7,
            epoch: 0,
            want: POLLIN | POLLHUP | POLLRDHUP,
        },
        Request::Attach {
            token: c,
            uid: 1000,
            gid: 1000,
            privileged: false,
        },
        Request::Shutdown { at: AT, how: 1 },
        Request::Ready {
            proxy: 7,
            epoch: 9,
            mask: POLLIN | POLLHUP,
        },
        Request::Nread { at: AT },
    ]
}

#[test]
fn requests_round_trip() {
    let data = [0x5au8; MAX_IO];
    let mut b = [0u8; MAX_REQUEST];
    for r in requests(&data) {
        let n = r.encode(&mut b).unwrap();
        assert_eq!(Request::decode(&b[..n]), Some(r));
        if !matches!(r, Request::Write { .. }) {
            assert_eq!(Request::decode(&b[..n - 1]), None);
            assert_eq!(Request::decode(&b[..n + 1]), None);
        }
    }
    let n = Request::Write {
        at: AT,
        seq: 0,
        data: &[1],
    }
    .encode(&mut b)
    .unwrap();
    assert_eq!(n, WRITE_HEAD + 1);
}

#[test]
fn bad_requests_refused() {
    let mut b = [0u8; MAX_REQUEST + 1];
    assert_eq!(Request::decode(&[]), None);
    assert_eq!(Request::decode(&[9]), None);
    // Empty and oversized writes.
    let n = Request::Write {
        at: AT,
        seq: 0,
        data: &[1],
    }
    .encode(&mut b)
    .unwrap();
    assert_eq!(Request::decode(&b[..n - 1]), None);
    assert_eq!(Request::decode(&b[..MAX_REQUEST + 1]), None);
    // Reads of 0 and of more than MAX_IO bytes.
    for count in [0, MAX_IO as u32 + 1] {
        let n = Request::Read {
            at: AT,
            seq: 0,
            count,
        }
        .encode(&mut b)
        .unwrap();
        assert_eq!(Request::decode(&b[..n]), None);
    }
    // A null export or handle.
    for at in [
        At {
            export: 0,
            handle: 1,
        },
        At {
            export: 1,
            handle: 0,
        },
    ] {
        let n = Request::Detach { at }.encode(&mut b).unwrap();
        assert_eq!(Request::decode(&b[..n]), None);
    }
    // READY: a null proxy, a bit it may not carry.
    for (proxy, mask) in [(0, POLLIN), (7, 0x4000)] {
        let n = Request::Ready {
            proxy,
            epoch: 1,
            mask,
        }
        .encode(&mut b)
        .unwrap();
        assert_eq!(Request::decode(&b[..n]), None);
    }
    // WATCH for nothing, or for a bit no READY carries; SHUTDOWN past
    // SHUT_RDWR.
    for want in [0, 0x4000] {
        let n = Request::Watch {
            at: AT,
            proxy: 7,
            epoch: 1,
            want,
        }
        .encode(&mut b)
        .unwrap();
        assert_eq!(Request::decode(&b[..n]), None);
    }
    let n = Request::Shutdown { at: AT, how: 3 }.encode(&mut b).unwrap();
    assert_eq!(Request::decode(&b[..n]), None);
    // Unknown flags of ATTACH.
    let n = requests(&[1])[0].encode(&mut b).unwrap();
    b[n - 1] = 2;
    assert_eq!(Request::decode(&b[..n]), None);
}

#[test]
fn answers() {
    let a = Attached {
        at: AT,
        end: End::Write,
        seq: 3,
    };
    let b = a.encode();
    assert_eq!(Attached::decode(&b), Some(a));
    assert_eq!(Attached::decode(&b[..Attached::LEN - 1]), None);
    let mut c = b;
    c[16] = 0;
    assert_eq!(Attached::decode(&c), None);
    let mut r = [7u8; READ_HEAD + 2];
    r[..READ_HEAD].copy_from_slice(&read_head(5, false));
    assert_eq!(decode_read_answer(&r, 5, 2), Some((&[7u8, 7][..], false)));
    assert_eq!(decode_read_answer(&r, 5, 1), None, "more than asked");
    assert_eq!(decode_read_answer(&r, 4, 2), None, "another request's");
    assert_eq!(decode_read_answer(&r[..7], 5, 2), None);
    assert_eq!(decode_read_answer(&r[..8], 5, 2), None, "no flags");
    assert_eq!(
        decode_read_answer(&r[..READ_HEAD], 5, 2),
        Some((&[][..], false))
    );
    r[..READ_HEAD].copy_from_slice(&read_head(5, true));
    assert_eq!(decode_read_answer(&r, 5, 2), Some((&[7u8, 7][..], true)));
    r[8] = 2;
    assert_eq!(decode_read_answer(&r, 5, 2), None, "unknown flag");
    assert_eq!(decode_written(&3u32.to_le_bytes(), 3), Some(3));
    assert_eq!(decode_written(&4u32.to_le_bytes(), 3), None);
    assert_eq!(decode_written(&[0; 3], 3), None);
}

#[test]
fn write_cursor() {
    let mut c = WriteCursor::new();
    assert_eq!(c.offer(1, 4), None, "a gap");
    assert_eq!(c.offer(0, 4), Some(0));
    assert_eq!(c.wrote(0, 3), 3, "the pipe took 3 of 4");
    assert_eq!(c.offer(0, 4), Some(3), "sent again: 3 already in");
    assert_eq!(c.wrote(3, 1), 4);
    assert_eq!(c.offer(0, 4), Some(4), "a late copy: all in");
    assert_eq!(c.offer(4, 2), Some(0));
    assert_eq!(c.next(), 4);
    assert_eq!(c.offer(u64::MAX, 2), None);
}

#[test]
fn read_cursor() {
    let mut c = ReadCursor::new();
    assert_eq!(c.ask(1, 4), ReadStep::Refuse);
    assert_eq!(c.ask(0, 4), ReadStep::Fresh);
    c.read(3);
    assert_eq!(c.held(), 3);
    assert_eq!(c.ask(0, 4), ReadStep::Replay, "the answer was lost");
    assert_eq!(c.ask(0, 2), ReadStep::Refuse, "a replay must fit");
    assert_eq!(c.ask(3, 4), ReadStep::Fresh, "received: go on");
    assert_eq!(c.ask(2, 4), ReadStep::Refuse);
    c.read(0);
    assert_eq!(c.held(), 0);
    assert_eq!(c.ask(3, 1), ReadStep::Fresh, "nothing held: read again");
    assert_eq!(c.next(), 3);
}
