//! The kit's conformance suite run over the OKX adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{Adapter, Body::Fixture, Round};

const ADAPTER: Adapter = Adapter {
    exchange: "okx",
    info: fc_plugin_okx::info,
    build_requests: fc_plugin_okx::build_requests,
    parse: fc_plugin_okx::parse,
    renames: fc_plugin_okx::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("instruments", Fixture("instruments-swap.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[
                ("tickers", Fixture("tickers.json")),
                ("mark-price", Fixture("mark-price-swap.json")),
                ("open-interest", Fixture("open-interest.json")),
            ],
        },
        Round {
            kind: "funding",
            answers: &[("funding", Fixture("funding-rate.json"))],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
