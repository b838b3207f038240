//! The kit's conformance suite run over the Hyperliquid adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, Inline},
    Round,
};

/// `predictedFundings` as recorded in a public parser test (exchange-notes §9.6, REAL, no
/// fixture file), with a second coin in the newer shape (`fundingIntervalHours`, a `BybitPerp`
/// entry given as `null`).
pub const PREDICTED_FUNDINGS: &str = r#"[["AVAX",[["BinPerp",{"fundingRate":"0.0001","nextFundingTime":1733961600000}],["HlPerp",{"fundingRate":"0.0000125","nextFundingTime":1733958000000}],["OkxPerp",{"fundingRate":null,"nextFundingTime":null}]]],["BTC",[["BinPerp",{"fundingRate":"0.00005","nextFundingTime":1733961600000,"fundingIntervalHours":8}],["HlPerp",{"fundingRate":"0.0000093","nextFundingTime":1733958000000,"fundingIntervalHours":1}],["BybitPerp",null]]]]"#;

const ADAPTER: Adapter = Adapter {
    exchange: "hyperliquid",
    info: fc_plugin_hyperliquid::info,
    build_requests: fc_plugin_hyperliquid::build_requests,
    parse: fc_plugin_hyperliquid::parse,
    renames: fc_plugin_hyperliquid::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("meta", Fixture("meta.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[("metaAndAssetCtxs", Fixture("meta-and-asset-ctxs.json"))],
        },
        Round {
            kind: "funding",
            answers: &[
                ("metaAndAssetCtxs", Fixture("meta-and-asset-ctxs.json")),
                ("predictedFundings", Inline(PREDICTED_FUNDINGS)),
            ],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
