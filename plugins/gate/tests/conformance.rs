//! The kit's conformance suite run over the Gate adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, FixtureWith},
    Round,
};

/// The recorded contracts list holds `LAB_USDT` and the recorded tickers `BTC_USDT`: the ticker
/// row is re-labelled as the contract the instruments round lists.
const TICKERS_AS_LAB: &[(&str, &str)] = &[(r#""BTC_USDT""#, r#""LAB_USDT""#)];

const ADAPTER: Adapter = Adapter {
    exchange: "gate",
    info: fc_plugin_gate::info,
    build_requests: fc_plugin_gate::build_requests,
    parse: fc_plugin_gate::parse,
    renames: fc_plugin_gate::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("contracts", Fixture("contracts.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[("tickers", FixtureWith("tickers.json", TICKERS_AS_LAB))],
        },
        Round {
            kind: "funding",
            answers: &[("funding", Fixture("contracts.json"))],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
