//! The kit's conformance suite run over the MEXC adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{Adapter, Body::Fixture, Round};

const ADAPTER: Adapter = Adapter {
    exchange: "mexc",
    info: fc_plugin_mexc::info,
    build_requests: fc_plugin_mexc::build_requests,
    parse: fc_plugin_mexc::parse,
    renames: fc_plugin_mexc::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("detail", Fixture("contract-detail.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[("ticker", Fixture("contract-ticker.json"))],
        },
        Round {
            kind: "funding",
            answers: &[("funding_rate", Fixture("funding-rate-all.json"))],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
