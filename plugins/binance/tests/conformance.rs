//! The kit's conformance suite run over the Binance adapter and its recorded responses.
//!
//! Owns: which recorded bodies answer which request of each kind, and the one body no
//! recording exists for (`exchangeInfo`, docs-shaped).
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, Inline},
    Round,
};

/// A `GET /fapi/v1/exchangeInfo` body, DOCS-SHAPED (Binance's "Exchange Information" example's
/// structure and field names; illustrative symbols): perpetuals the recorded tickers list, a
/// multiplier-prefixed one and a dated contract that must not come out.
const EXCHANGE_INFO: &str = r#"{"serverTime": 1732715655000, "symbols": [
 {"symbol": "BTCUSDT", "contractType": "PERPETUAL", "status": "TRADING", "onboardDate": 1569398400000,
  "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
  "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.10"}]},
 {"symbol": "ETHUSDT", "contractType": "PERPETUAL", "status": "TRADING", "onboardDate": 1569398400000,
  "baseAsset": "ETH", "quoteAsset": "USDT", "marginAsset": "USDT",
  "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.01"}]},
 {"symbol": "1000PEPEUSDT", "contractType": "PERPETUAL", "status": "TRADING", "onboardDate": 1683244800000,
  "baseAsset": "1000PEPE", "quoteAsset": "USDT", "marginAsset": "USDT",
  "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.0000001"}]},
 {"symbol": "BTCUSDT_250627", "contractType": "NEXT_QUARTER", "status": "TRADING", "onboardDate": 1735286400000,
  "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
  "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.10"}]}
]}"#;

const ADAPTER: Adapter = Adapter {
    exchange: "binanceusdm",
    info: fc_plugin_binance::info,
    build_requests: fc_plugin_binance::build_requests,
    parse: fc_plugin_binance::parse,
    renames: fc_plugin_binance::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("exchangeInfo", Inline(EXCHANGE_INFO))],
        },
        Round {
            kind: "tickers",
            answers: &[
                ("ticker24hr", Fixture("ticker-24hr-all.json")),
                ("bookTicker", Fixture("book-ticker-all.json")),
                ("premiumIndex", Fixture("premium-index-all.json")),
            ],
        },
        Round {
            kind: "funding",
            answers: &[
                ("premiumIndex", Fixture("premium-index-all.json")),
                ("fundingInfo", Fixture("funding-info.json")),
            ],
        },
        Round {
            kind: "open_interest",
            answers: &[
                ("oi:BTCUSDT", Fixture("open-interest-btcusdt.json")),
                ("premiumIndex", Fixture("premium-index-all.json")),
            ],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
