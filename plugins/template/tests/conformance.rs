//! The kit's conformance suite over the template adapter: it must fail exactly where the
//! exchange-specific code is missing (rows are never mapped to records), and pass everything
//! the kit and the template's generic parts already guarantee.
//!
//! Owns: the expected-failure check. An adapter copied from the template replaces this file's
//! check with `plugin_kit::conformance_suite!(ADAPTER);` once its rows map to records.
//! Must not: hide a failure: the list of failing checks is pinned, not ignored.

use plugin_kit::conformance::{failing_checks, Adapter, Body::Inline, Round};

/// A docs-shaped answer of every kind (the template's envelope around one row).
const ROWS: &str = r#"{"code":"0","msg":"","data":[{"symbol":"BTCUSDT"}]}"#;

const ADAPTER: Adapter = Adapter {
    exchange: "template",
    info: fc_plugin_template::info,
    build_requests: fc_plugin_template::build_requests,
    parse: fc_plugin_template::parse,
    renames: fc_plugin_template::CURRENCY_RENAMES,
    rounds: &[
        Round {
            kind: "instruments",
            answers: &[("instruments", Inline(ROWS))],
        },
        Round {
            kind: "tickers",
            answers: &[("tickers", Inline(ROWS))],
        },
        Round {
            kind: "funding",
            answers: &[("funding", Inline(ROWS))],
        },
    ],
    src_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
};

#[test]
fn fails_the_suite_only_where_exchange_code_is_missing() {
    assert_eq!(failing_checks(&ADAPTER), vec!["recorded_fixtures_parse"]);
}
