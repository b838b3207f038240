//! The kit's conformance suite run over the KuCoin Futures adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, FixtureWith},
    Round,
};

/// The recorded `allTickers` body is a docs example for the inverse `XBTUSDM`; the round
/// collects the linear `XBTUSDTM` of `contracts-active.json`.
const ALL_TICKERS_LINEAR: &[(&str, &str)] = &[("\"XBTUSDM\"", "\"XBTUSDTM\"")];

const ADAPTER: Adapter = Adapter {
    exchange: "kucoinfutures",
    info: fc_plugin_kucoinfutures::info,
    build_requests: fc_plugin_kucoinfutures::build_requests,
    parse: fc_plugin_kucoinfutures::parse,
    renames: fc_plugin_kucoinfutures::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("contracts", Fixture("contracts-active.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[
                ("contracts", Fixture("contracts-active.json")),
                (
                    "allTickers",
                    FixtureWith("all-tickers.json", ALL_TICKERS_LINEAR),
                ),
            ],
        },
        Round {
            kind: "funding",
            answers: &[("contracts", Fixture("contracts-active.json"))],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
