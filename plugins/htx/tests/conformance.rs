//! The kit's conformance suite run over the HTX adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, FixtureWith},
    Round,
};

/// The recorded bulk funding lists ETC-USDT and ADA-USDT; the recorded instruments hold the
/// BTC-USDT swap only: the ETC row is re-labelled so the round has a record to check.
const FUNDING_FOR_BTC: &[(&str, &str)] =
    &[("\"ETC-USDT\"", "\"BTC-USDT\""), ("\"ETC\"", "\"BTC\"")];

const ADAPTER: Adapter = Adapter {
    exchange: "htx",
    info: fc_plugin_htx::info,
    build_requests: fc_plugin_htx::build_requests,
    parse: fc_plugin_htx::parse,
    renames: fc_plugin_htx::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("contracts", Fixture("contract-info.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[
                ("batch_merged", Fixture("batch-merged.json")),
                ("open_interest", Fixture("open-interest.json")),
            ],
        },
        Round {
            kind: "funding",
            answers: &[(
                "funding",
                FixtureWith("batch-funding-rate.json", FUNDING_FOR_BTC),
            )],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
