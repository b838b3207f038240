//! The kit's conformance suite run over the Deribit adapter and its recorded responses.
//!
//! Owns: which bodies answer which request of each kind.
//! Must not: restate a check of the suite (fix the adapter, not the suite).

use plugin_kit::conformance::{
    Adapter,
    Body::{Fixture, Inline},
    Round,
};

/// `get_book_summary_by_currency?currency=BTC&kind=future`: no recording exists; the perpetual
/// row is exchange-notes Appendix A's RECONSTRUCTED row (its values are the recorded ticker's,
/// `ws-ticker-btc-perpetual.json`), plus a dated future.
pub const BOOK_SUMMARY_BTC: &str = r#"{"jsonrpc":"2.0","result":[{"instrument_name":"BTC-PERPETUAL","base_currency":"BTC","quote_currency":"USD","last":92283.5,"bid_price":92283.5,"ask_price":92284.0,"mid_price":92283.75,"mark_price":92281.78,"estimated_delivery_price":92263.55,"volume":11897.27,"volume_usd":1092371540.0,"open_interest":1132329370.0,"current_funding":0.0,"funding_8h":0.00001742,"creation_timestamp":1765541474086},{"instrument_name":"BTC-27DEC24","base_currency":"BTC","quote_currency":"USD","last":93800.0,"bid_price":93790.0,"ask_price":93810.0,"mark_price":93801.2,"estimated_delivery_price":92263.55,"volume":120.5,"volume_usd":11300000.0,"open_interest":54000000.0,"creation_timestamp":1765541474086}],"usIn":1765541474086000,"usOut":1765541474086400,"usDiff":400,"testnet":false}"#;

const ADAPTER: Adapter = Adapter {
    exchange: "deribit",
    info: fc_plugin_deribit::info,
    build_requests: fc_plugin_deribit::build_requests,
    parse: fc_plugin_deribit::parse,
    renames: fc_plugin_deribit::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("instruments:BTC", Fixture("get-instruments.json"))],
        },
        Round {
            kind: "tickers",
            answers: &[("summary:BTC", Inline(BOOK_SUMMARY_BTC))],
        },
        Round {
            kind: "funding",
            answers: &[("summary:BTC", Inline(BOOK_SUMMARY_BTC))],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

plugin_kit::conformance_suite!(ADAPTER);
