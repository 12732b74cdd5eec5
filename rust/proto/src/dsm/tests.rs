// SPDX-License-Identifier: GPL-2.0-only
//! Unit tests of the directory and the copies; the exhaustive check is
//! `model.rs`.

extern crate std;

use super::*;
use std::vec::Vec;

const O: Obj = Obj {
    container: 7,
    index: 3,
};

fn sends(o: &Out) -> Vec<(u8, Msg)> {
    o.sends().collect()
}

fn set(ids: &[u8]) -> NodeSet {
    let mut s = NodeSet::new();
    for &i in ids {
        s.insert(i);
    }
    s
}

/// The request `access` makes.
fn miss(c: &mut Copy, write: bool) -> Msg {
    match c.access(write) {
        Access::Miss(m) => m,
        a => panic!("expected a miss, got {a:?}"),
    }
}

#[test]
fn readers_share_then_a_writer_invalidates_them_in_parallel() {
    let mut h = Home::<3>::new(O);
    let mut c: Vec<Copy> = (1..=3).map(|_| Copy::new(O, 1)).collect();
    for n in [2u8, 3] {
        let i = usize::from(n) - 1;
        let r = miss(&mut c[i], false);
        let o = h.on_msg(n, r).unwrap();
        let [(to, d)] = sends(&o)[..] else { panic!() };
        assert_eq!(
            (to, d),
            (
                n,
                Msg::Data {
                    obj: O,
                    req: 0,
                    excl: false
                }
            )
        );
        assert!(c[i].on_msg(1, d).unwrap().granted);
        assert_eq!(c[i].state(), State::Shared);
        assert_eq!(c[i].access(false), Access::Wait, "held until done");
        h.on_msg(n, c[i].done().unwrap()).unwrap();
        assert_eq!(c[i].access(false), Access::Hit);
    }
    assert_eq!(h.dir(), Dir::Shared(set(&[2, 3])));
    // Node 1 writes: both sharers are invalidated at once.
    let w = miss(&mut c[0], true);
    let o = h.on_msg(1, w).unwrap();
    let inv = Msg::Inv { obj: O, req: 0 };
    assert_eq!(sends(&o), [(2, inv), (3, inv)]);
    // Done before the acks: refused.
    assert_eq!(h.on_msg(1, Msg::Done { obj: O, req: 0 }), Err(Refused));
    let mut acks = Vec::new();
    for n in [3u8, 2] {
        let o = c[usize::from(n) - 1].on_msg(1, inv).unwrap();
        assert_eq!(c[usize::from(n) - 1].state(), State::Invalid);
        let [(1, a)] = sends(&o)[..] else { panic!() };
        acks.push((n, a));
    }
    assert!(sends(&h.on_msg(acks[0].0, acks[0].1).unwrap()).is_empty());
    // The same ack again: refused.
    assert_eq!(h.on_msg(acks[0].0, acks[0].1), Err(Refused));
    let o = h.on_msg(acks[1].0, acks[1].1).unwrap();
    let d = Msg::Data {
        obj: O,
        req: 0,
        excl: true,
    };
    assert_eq!(sends(&o), [(1, d)]);
    c[0].on_msg(1, d).unwrap();
    assert_eq!(c[0].state(), State::Modified);
    h.on_msg(1, c[0].done().unwrap()).unwrap();
    assert_eq!(h.dir(), Dir::Exclusive(1));
    assert_eq!(h.serving(), None);
    assert_eq!(h.refused(), 2);
}

#[test]
fn a_read_is_forwarded_to_the_owner_who_writes_back() {
    let mut h = Home::<3>::new(O);
    let mut a = Copy::new(O, 1);
    let mut b = Copy::new(O, 1);
    let o = h.on_msg(2, miss(&mut a, true)).unwrap();
    a.on_msg(1, sends(&o)[0].1).unwrap();
    h.on_msg(2, a.done().unwrap()).unwrap();
    let o = h.on_msg(3, miss(&mut b, false)).unwrap();
    let fwd = Msg::Fwd {
        obj: O,
        req: 0,
        to: 3,
        excl: false,
    };
    assert_eq!(sends(&o), [(2, fwd)]);
    let o = a.on_msg(1, fwd).unwrap();
    assert_eq!(a.state(), State::Shared);
    let data = Msg::Data {
        obj: O,
        req: 0,
        excl: false,
    };
    let wb = Msg::WriteBack { obj: O, req: 0 };
    assert_eq!(sends(&o), [(3, data), (1, wb)]);
    // The Done may overtake the write-back: the home waits for both.
    b.on_msg(2, data).unwrap();
    h.on_msg(3, b.done().unwrap()).unwrap();
    assert!(h.serving().is_some());
    h.on_msg(2, wb).unwrap();
    assert_eq!(h.serving(), None);
    assert_eq!(h.dir(), Dir::Shared(set(&[2, 3])));
    // A sharer's write is an upgrade: a Grant, no data.
    let o = h.on_msg(3, miss(&mut b, true)).unwrap();
    let inv = Msg::Inv { obj: O, req: 1 };
    assert_eq!(sends(&o), [(2, inv)]);
    let o = a.on_msg(1, inv).unwrap();
    let o = h.on_msg(2, sends(&o)[0].1).unwrap();
    let grant = Msg::Grant { obj: O, req: 1 };
    assert_eq!(sends(&o), [(3, grant)]);
    assert!(b.on_msg(1, grant).unwrap().granted);
    assert_eq!(b.state(), State::Modified);
}

#[test]
fn requests_are_served_in_order_of_arrival() {
    let mut h = Home::<3>::new(O);
    let mut c: Vec<Copy> = (1..=3).map(|_| Copy::new(O, 1)).collect();
    let reqs: Vec<Msg> = c.iter_mut().map(|c| miss(c, true)).collect();
    let first = h.on_msg(3, reqs[2]).unwrap();
    assert!(sends(&h.on_msg(1, reqs[0]).unwrap()).is_empty());
    assert!(sends(&h.on_msg(2, reqs[1]).unwrap()).is_empty());
    assert_eq!(h.waiting(), 2);
    c[2].on_msg(1, sends(&first)[0].1).unwrap();
    let done3 = c[2].done().unwrap();
    let mut order = Vec::new();
    let mut done = done3;
    let mut from = 3;
    for _ in 0..2 {
        let o = h.on_msg(from, done).unwrap();
        let [(owner, Msg::Fwd { to, .. })] = sends(&o)[..] else {
            panic!("{o:?}")
        };
        order.push(to);
        let o = c[usize::from(owner) - 1].on_msg(1, sends(&o)[0].1).unwrap();
        let i = usize::from(to) - 1;
        c[i].on_msg(owner, sends(&o)[0].1).unwrap();
        if let Some((1, wb)) = sends(&o).get(1).copied() {
            h.on_msg(owner, wb).unwrap();
        }
        done = c[i].done().unwrap();
        from = to;
    }
    assert_eq!(order, [1, 2]);
    assert!(sends(&h.on_msg(from, done).unwrap()).is_empty());
    assert_eq!((h.dir(), h.serving()), (Dir::Exclusive(2), None));
}

#[test]
fn a_request_may_overtake_the_done_before_it() {
    let mut h = Home::<3>::new(O);
    let mut c = Copy::new(O, 1);
    let o = h.on_msg(2, miss(&mut c, false)).unwrap();
    c.on_msg(1, sends(&o)[0].1).unwrap();
    let done = c.done().unwrap();
    let w = miss(&mut c, true);
    assert!(sends(&h.on_msg(2, w).unwrap()).is_empty());
    assert_eq!(h.on_msg(2, w), Err(Refused));
    let o = h.on_msg(2, done).unwrap();
    assert_eq!(sends(&o), [(2, Msg::Grant { obj: O, req: 1 })]);
}

#[test]
fn unexpected_messages_are_refused_and_counted() {
    let mut h = Home::<2>::new(O);
    let mut c = Copy::new(O, 1);
    let other = Obj {
        container: 7,
        index: 4,
    };
    let stray = [
        Msg::InvAck { obj: O, req: 0 },
        Msg::WriteBack { obj: O, req: 0 },
        Msg::Done { obj: O, req: 0 },
        Msg::Fwd {
            obj: O,
            req: 0,
            to: 2,
            excl: true,
        },
        Msg::Inv { obj: O, req: 0 },
        Msg::Data {
            obj: O,
            req: 0,
            excl: false,
        },
        Msg::Grant { obj: O, req: 0 },
        Msg::ReadReq { obj: other, req: 0 },
    ];
    for m in stray {
        assert_eq!(h.on_msg(2, m), Err(Refused), "{m:?}");
        assert_eq!(c.on_msg(1, m), Err(Refused), "{m:?}");
    }
    assert_eq!(h.on_msg(0, Msg::ReadReq { obj: O, req: 0 }), Err(Refused));
    assert_eq!((h.refused(), c.refused()), (9, 8));
    assert_eq!((h.dir(), h.serving()), (Dir::Uncached, None));
    assert_eq!((c.state(), c.busy()), (State::Invalid, false));
    // A full queue refuses.
    h.on_msg(1, Msg::ReadReq { obj: O, req: 0 }).unwrap();
    h.on_msg(2, Msg::ReadReq { obj: O, req: 0 }).unwrap();
    h.on_msg(3, Msg::ReadReq { obj: O, req: 0 }).unwrap();
    assert_eq!(h.on_msg(4, Msg::ReadReq { obj: O, req: 0 }), Err(Refused));
    // A Data for another request, a Grant to a copy not shared.
    miss(&mut c, true);
    assert_eq!(
        c.on_msg(
            1,
            Msg::Data {
                obj: O,
                req: 1,
                excl: true
            }
        ),
        Err(Refused)
    );
    assert_eq!(
        c.on_msg(
            1,
            Msg::Data {
                obj: O,
                req: 0,
                excl: false
            }
        ),
        Err(Refused)
    );
    assert_eq!(c.on_msg(1, Msg::Grant { obj: O, req: 0 }), Err(Refused));
    assert!(c.busy() && !c.held());
}

#[test]
fn a_pending_upgrade_invalidated_first_gets_data() {
    let mut c = Copy::new(O, 1);
    let d = miss_then(&mut c, false);
    c.on_msg(1, d).unwrap();
    c.done().unwrap();
    let w = miss(&mut c, true);
    assert_eq!(w, Msg::WriteReq { obj: O, req: 1 });
    // Another node's write was first: this copy is invalidated meanwhile.
    c.on_msg(1, Msg::Inv { obj: O, req: 5 }).unwrap();
    assert_eq!(c.state(), State::Invalid);
    assert_eq!(c.on_msg(1, Msg::Grant { obj: O, req: 1 }), Err(Refused));
    assert!(
        c.on_msg(
            3,
            Msg::Data {
                obj: O,
                req: 1,
                excl: true
            }
        )
        .unwrap()
        .granted
    );
    assert_eq!(c.state(), State::Modified);
    // Held: a Fwd before the first access is refused.
    let fwd = Msg::Fwd {
        obj: O,
        req: 9,
        to: 2,
        excl: true,
    };
    assert_eq!(c.on_msg(1, fwd), Err(Refused));
    assert_eq!(c.done(), Some(Msg::Done { obj: O, req: 1 }));
    assert!(c.on_msg(1, fwd).is_ok());
    assert_eq!(c.state(), State::Invalid);
}

/// Makes a read request and answers it.
fn miss_then(c: &mut Copy, write: bool) -> Msg {
    let m = miss(c, write);
    Msg::Data {
        obj: O,
        req: m.req(),
        excl: write,
    }
}

#[test]
fn the_owner_asking_again_is_refused_even_from_the_queue() {
    let mut h = Home::<3>::new(O);
    let w = |req| Msg::WriteReq { obj: O, req };
    h.on_msg(2, w(0)).unwrap();
    h.on_msg(2, Msg::Done { obj: O, req: 0 }).unwrap();
    assert_eq!(h.dir(), Dir::Exclusive(2));
    assert_eq!(h.on_msg(2, w(1)), Err(Refused));
    assert_eq!((h.serving(), h.refused()), (None, 1));
    // Node 3 writes; the owner's request queued behind it is refused
    // once node 3 is done, and node 1's, behind it, is served.
    h.on_msg(3, w(0)).unwrap();
    h.on_msg(3, w(1)).unwrap();
    h.on_msg(1, w(0)).unwrap();
    let o = h.on_msg(3, Msg::Done { obj: O, req: 0 }).unwrap();
    let fwd = Msg::Fwd {
        obj: O,
        req: 0,
        to: 1,
        excl: true,
    };
    assert_eq!(sends(&o), [(3, fwd)]);
    assert_eq!(h.refused(), 2);
    assert_eq!(h.serving().map(|r| r.node), Some(1));
}
