// SPDX-License-Identifier: GPL-2.0-only
//! Fuzzes the message decoder, the knob parsers and the ghost stream
//! reader with arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssi_proto::{cmsg, ghost, knob, wire};

fuzz_target!(|data: &[u8]| {
    if let Ok((h, payload)) = wire::decode(data) {
        // Whatever decodes must encode back to the same bytes.
        let mut out = vec![0u8; data.len()];
        let n = wire::encode(&h, payload, &mut out).expect("decoded message re-encodes");
        assert_eq!(&out[..n], data);
    }
    if let Ok(h) = wire::decode_returned(data) {
        // A returned message's header is a whole message's header.
        if let Ok((full, _)) = wire::decode(data) {
            assert_eq!(full, h);
        }
    }
    if let Some(r) = cmsg::returned(data) {
        assert!(r.data.len() <= data.len());
    }
    let _ = knob::parse_add(data);
    let _ = knob::parse_key(data);
    let mut f = [0u32; 3];
    let _ = knob::parse_fields(data, &mut f);
    // A ghost stream: read until an error or its end, never a panic.
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
});
