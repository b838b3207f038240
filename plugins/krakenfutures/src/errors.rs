//! Kraken Futures' error answers described for plugin-kit's [`envelope`](plugin_kit::envelope).
//!
//! Owns: [`KrakenErrorEnvelope`] (the error word of `{"result":"error","error":"…"}`, found
//! under any status, with its class) and [`KrakenResultEnvelope`] (`result` must be `success`).
//! Success bodies are objects holding `result`, `serverTime` and the payload under the
//! endpoint's own key (`instruments`, `tickers`): `parse.rs` runs both checks, then decodes the
//! body itself.
//! Must not: map fields or build records; decide anything plugin-kit decides for every exchange.
//!
//! Classes (exchange-notes §13.4, ccxt krakenfutures `exceptions`): errors are
//! `{"result":"error","error":"apiLimitExceeded","serverTime":…}` under HTTP 200 or 4xx, or
//! `{"errors":[{"code":…,"message":…}]}`; the error word is the code:
//! - rate-limited: `apiLimitExceeded`, and HTTP 429 (waiting `Retry-After` when sent);
//! - transient: `unavailable` / `Unavailable` (ccxt: ExchangeNotAvailable), `Server Error`
//!   (ccxt calls it a plain exchange error; a server-side failure is retried here —
//!   UNCONFIRMED), HTTP 408 and 5xx;
//! - permanent: every other word (`marketUnavailable`, `contractNotFound`,
//!   `requiredArgumentMissing`, `invalidArgument`, …), other 4xx, and `result` other than
//!   `success` without an error word (the `errors` list form);
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, or without the payload key.

use plugin_kit::envelope::{CodeTable, Envelope};

/// The error word (`"error":"apiLimitExceeded"`); success bodies have none.
pub struct KrakenErrorEnvelope;

impl Envelope for KrakenErrorEnvelope {
    const CODE_FIELD: &'static str = "error";
    /// Kraken's top-level errors carry no separate message: the word is all there is.
    const MESSAGE_FIELD: &'static str = "message";
    const PAYLOAD_FIELD: Option<&'static str> = None;
    const CODES: CodeTable = CodeTable {
        // An empty word (`"error":""`) is no error; `null` is none either.
        success: &[""],
        rate_limited: &["apiLimitExceeded"],
        transient: &["unavailable", "Unavailable", "Server Error"],
    };
}

/// `"result":"success"` on every good answer; anything else is an error.
pub struct KrakenResultEnvelope;

impl Envelope for KrakenResultEnvelope {
    const CODE_FIELD: &'static str = "result";
    const MESSAGE_FIELD: &'static str = "error";
    const PAYLOAD_FIELD: Option<&'static str> = None;
    const CODES: CodeTable = CodeTable {
        success: &["success"],
        rate_limited: &[],
        transient: &[],
    };
}
