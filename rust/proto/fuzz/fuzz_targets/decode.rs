// SPDX-License-Identifier: GPL-2.0-only
//! Fuzzes the message decoder and the knob parsers with arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssi_proto::{knob, wire};

fuzz_target!(|data: &[u8]| {
    if let Ok((h, payload)) = wire::decode(data) {
        // Whatever decodes must encode back to the same bytes.
        let mut out = vec![0u8; data.len()];
        let n = wire::encode(&h, payload, &mut out).expect("decoded message re-encodes");
        assert_eq!(&out[..n], data);
    }
    let _ = knob::parse_add(data);
    let mut f = [0u32; 3];
    let _ = knob::parse_fields(data, &mut f);
});
