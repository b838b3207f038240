//! The kit's conformance suite run over the Bitget adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, FixtureWith},
    Round,
};

/// The USDC-FUTURES answers: the recorded USDT rows re-labelled as Bitget's USDC perpetual
/// (`BTCPERP`, quote and margin coin USDC).
const AS_USDC: &[(&str, &str)] = &[(r#""BTCUSDT""#, r#""BTCPERP""#), (r#""USDT""#, r#""USDC""#)];

/// The recorded tickers answer is a COIN-FUTURES one (`BTCUSD` perpetual beside the dated
/// `ETHUSD_231229`); this adapter collects linear perpetuals, so the perpetual row is
/// re-labelled as the BTCUSDT row it would be. The dated row stays: it must be skipped.
const TICKERS_AS_USDT: &[(&str, &str)] = &[(r#""symbol": "BTCUSD""#, r#""symbol": "BTCUSDT""#)];
const TICKERS_AS_USDC: &[(&str, &str)] = &[(r#""symbol": "BTCUSD""#, r#""symbol": "BTCPERP""#)];

const ADAPTER: Adapter = Adapter {
    exchange: "bitget",
    info: fc_plugin_bitget::info,
    build_requests: fc_plugin_bitget::build_requests,
    parse: fc_plugin_bitget::parse,
    renames: fc_plugin_bitget::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[
                ("contracts:USDT-FUTURES", Fixture("contracts.json")),
                (
                    "contracts:USDC-FUTURES",
                    FixtureWith("contracts.json", AS_USDC),
                ),
            ],
        },
        Round {
            kind: "tickers",
            answers: &[
                (
                    "tickers:USDT-FUTURES",
                    FixtureWith("tickers.json", TICKERS_AS_USDT),
                ),
                (
                    "tickers:USDC-FUTURES",
                    FixtureWith("tickers.json", TICKERS_AS_USDC),
                ),
            ],
        },
        Round {
            kind: "funding",
            answers: &[
                ("funding:USDT-FUTURES", Fixture("current-fund-rate.json")),
                (
                    "funding:USDC-FUTURES",
                    FixtureWith("current-fund-rate.json", AS_USDC),
                ),
            ],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
