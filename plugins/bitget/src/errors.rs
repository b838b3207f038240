//! Bitget's error envelope and codes: the v2 envelope (`code` / `msg` / `requestTime` / `data`)
//! described for plugin-kit's [`envelope`](plugin_kit::envelope), which turns statuses, codes
//! and garbage bodies into classified errors naming the request's tag.
//!
//! Owns: [`BitgetEnvelope`] (field names, the code table).
//! Must not: map fields or build records; decide anything plugin-kit decides for every exchange.
//!
//! Classes (exchange-notes §3.4, from ccxt's bitget exception table): any `code` other than
//! `"00000"` is an error, under HTTP 200 or 4xx.
//! - rate-limited: `429` and `1001` "too many requests"; HTTP 429/418 (waiting `Retry-After`);
//! - transient: `40015` system abnormal, `40200` / `40308` maintenance (the server is back
//!   after it), `40010` request timed out; HTTP 408 and 5xx;
//! - permanent: everything else, e.g. `40017` parameter verification failed, `40019` parameter
//!   cannot be empty, `40309` contract has been removed (a bad symbol), `40034` parameter does
//!   not exist; other 4xx;
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, or whose `data` is not the
//!   documented array of rows.

use plugin_kit::envelope::{CodeTable, Envelope};

/// The Bitget v2 envelope: `{"code":"00000","msg":"success","requestTime":1695…,"data":[…]}`.
pub struct BitgetEnvelope;

impl Envelope for BitgetEnvelope {
    const CODE_FIELD: &'static str = "code";
    const MESSAGE_FIELD: &'static str = "msg";
    const PAYLOAD_FIELD: Option<&'static str> = Some("data");
    /// A JSON number (exchange-notes errata 3), Unix ms.
    const TIME_FIELD: Option<&'static str> = Some("requestTime");
    const CODES: CodeTable = CodeTable {
        success: &["00000"],
        rate_limited: &["429", "1001"],
        transient: &["40015", "40200", "40308", "40010"],
    };
}
