//! The kit's conformance suite run over the BitMEX adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{Adapter, Body::FixtureWith, Round};

/// The recorded `instrument-xbtusd.json` is one element of the array BitMEX answers: wrapped
/// back into the array `instrument/active` serves.
const AS_ARRAY: &[(&str, &str)] = &[
    ("{\n    \"symbol\"", "[{\n    \"symbol\""),
    ("\"capped\": false\n}", "\"capped\": false\n}]"),
];

const ADAPTER: Adapter = Adapter {
    exchange: "bitmex",
    info: fc_plugin_bitmex::info,
    build_requests: fc_plugin_bitmex::build_requests,
    parse: fc_plugin_bitmex::parse,
    renames: fc_plugin_bitmex::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[(
                "instrumentActive",
                FixtureWith("instrument-xbtusd.json", AS_ARRAY),
            )],
        },
        Round {
            kind: "tickers",
            answers: &[(
                "instrumentActive",
                FixtureWith("instrument-xbtusd.json", AS_ARRAY),
            )],
        },
        Round {
            kind: "funding",
            answers: &[(
                "instrumentActive",
                FixtureWith("instrument-xbtusd.json", AS_ARRAY),
            )],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
