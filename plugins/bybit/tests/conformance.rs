//! The kit's conformance suite run over the Bybit adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, FixtureWith},
    Round,
};

/// The recorded tickers answer is Bybit's `category=inverse` one (BTCUSD); this adapter
/// collects linear perpetuals, so it is re-labelled as the BTCUSDT row it would be.
const TICKERS_AS_LINEAR: &[(&str, &str)] = &[
    (r#""category": "inverse""#, r#""category": "linear""#),
    (r#""symbol": "BTCUSD""#, r#""symbol": "BTCUSDT""#),
];

const ADAPTER: Adapter = Adapter {
    exchange: "bybit",
    info: fc_plugin_bybit::info,
    build_requests: fc_plugin_bybit::build_requests,
    parse: fc_plugin_bybit::parse,
    renames: fc_plugin_bybit::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("instruments", Fixture("instruments-info-linear.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[(
                "tickers",
                FixtureWith("tickers-linear.json", TICKERS_AS_LINEAR),
            )],
        },
        Round {
            kind: "funding",
            answers: &[(
                "funding",
                FixtureWith("tickers-linear.json", TICKERS_AS_LINEAR),
            )],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
