//! The kit's conformance suite run over the BingX adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, FixtureWith},
    Round,
};

/// The recorded single-symbol ticker is for `SFP-USDT`; the round collects the `BTC-USDT` of
/// `contracts.json`.
const TICKER_BTC: &[(&str, &str)] = &[("\"SFP-USDT\"", "\"BTC-USDT\"")];
/// The recorded open interest is for `EOS-USDT`; relabelled for the two contracts.
const OI_BTC: &[(&str, &str)] = &[("\"EOS-USDT\"", "\"BTC-USDT\"")];
const OI_ETH: &[(&str, &str)] = &[("\"EOS-USDT\"", "\"ETH-USDT\"")];

const ADAPTER: Adapter = Adapter {
    exchange: "bingx",
    info: fc_plugin_bingx::info,
    build_requests: fc_plugin_bingx::build_requests,
    parse: fc_plugin_bingx::parse,
    renames: fc_plugin_bingx::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("contracts", Fixture("contracts.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[
                ("ticker", FixtureWith("ticker.json", TICKER_BTC)),
                ("premiumIndex", Fixture("premium-index.json")),
            ],
        },
        Round {
            kind: "funding",
            answers: &[("premiumIndex", Fixture("premium-index.json"))],
        },
        Round {
            kind: "open_interest",
            answers: &[
                ("oi:BTC-USDT", FixtureWith("open-interest.json", OI_BTC)),
                ("oi:ETH-USDT", FixtureWith("open-interest.json", OI_ETH)),
                ("premiumIndex", Fixture("premium-index.json")),
            ],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
