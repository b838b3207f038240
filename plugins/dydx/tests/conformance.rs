//! The kit's conformance suite run over the dYdX v4 adapter and its recorded responses.
//!
//! Owns: which bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, Inline},
    Round,
};

/// `/v4/height`: no recording is in the shared fixtures; this is nautilus_trader's recorded
/// answer of the same day as `perpetual-markets.json` (`crates/adapters/dydx/test_data/
/// http_get_block_height.json`, its `result` member).
pub const HEIGHT: &str = r#"{"height":"66624132","time":"2025-12-08T16:11:59.450Z"}"#;

const ADAPTER: Adapter = Adapter {
    exchange: "dydx",
    info: fc_plugin_dydx::info,
    build_requests: fc_plugin_dydx::build_requests,
    parse: fc_plugin_dydx::parse,
    renames: fc_plugin_dydx::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("perpetualMarkets", Fixture("perpetual-markets.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[
                ("perpetualMarkets", Fixture("perpetual-markets.json")),
                ("height", Inline(HEIGHT)),
            ],
        },
        Round {
            kind: "funding",
            answers: &[
                ("perpetualMarkets", Fixture("perpetual-markets.json")),
                ("height", Inline(HEIGHT)),
            ],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
