//! The kit's conformance suite run over the Kraken Futures adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{Adapter, Body::Fixture, Round};

const ADAPTER: Adapter = Adapter {
    exchange: "krakenfutures",
    info: fc_plugin_krakenfutures::info,
    build_requests: fc_plugin_krakenfutures::build_requests,
    parse: fc_plugin_krakenfutures::parse,
    renames: fc_plugin_krakenfutures::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("instruments", Fixture("instruments.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[("tickers", Fixture("tickers.json"))],
        },
        Round {
            kind: "funding",
            answers: &[("tickers", Fixture("tickers.json"))],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
