//! `build_requests`: the HTTP requests of one collection cycle, per kind.
//!
//! Owns: endpoint paths, query parameters, request weights (Binance USDⓈ-M "Request Weight",
//! counted against the 2400/min REQUEST_WEIGHT limit per IP) and the tags `parse` uses to tell
//! the responses of a round apart.
//! Must not: perform I/O, read clocks, or decide retries/rate limiting (the host does).
//!
//! | kind            | request                                   | weight | tag            |
//! |-----------------|-------------------------------------------|--------|----------------|
//! | `instruments`   | `GET /fapi/v1/exchangeInfo`               | 1      | `exchangeInfo` |
//! | `tickers`       | `GET /fapi/v1/ticker/24hr`                | 40     | `ticker24hr`   |
//! |                 | `GET /fapi/v1/ticker/bookTicker`          | 5      | `bookTicker`   |
//! |                 | `GET /fapi/v1/premiumIndex`               | 10     | `premiumIndex` |
//! | `funding`       | `GET /fapi/v1/premiumIndex`               | 10     | `premiumIndex` |
//! |                 | `GET /fapi/v1/fundingInfo`                | 1 (¹)  | `fundingInfo`  |
//! | `open_interest` | `GET /fapi/v1/openInterest?symbol=X` each | 1      | `oi:X`         |
//! |                 | `GET /fapi/v1/premiumIndex`               | 10     | `premiumIndex` |
//!
//! (¹) Binance documents weight 0 plus a separate 500 per 5 min per IP shared with
//! `/fapi/v1/fundingRate`; a request descriptor's weight is at least 1.

use plugin_api::{Context, HttpRequest, PluginError, RecordKind};

use crate::{KIND_FUNDING, KIND_INSTRUMENTS, KIND_OPEN_INTEREST, KIND_TICKERS};

pub const PATH_EXCHANGE_INFO: &str = "/fapi/v1/exchangeInfo";
pub const PATH_TICKER_24HR: &str = "/fapi/v1/ticker/24hr";
pub const PATH_BOOK_TICKER: &str = "/fapi/v1/ticker/bookTicker";
pub const PATH_PREMIUM_INDEX: &str = "/fapi/v1/premiumIndex";
pub const PATH_FUNDING_INFO: &str = "/fapi/v1/fundingInfo";
pub const PATH_OPEN_INTEREST: &str = "/fapi/v1/openInterest";

pub const TAG_EXCHANGE_INFO: &str = "exchangeInfo";
pub const TAG_TICKER_24HR: &str = "ticker24hr";
pub const TAG_BOOK_TICKER: &str = "bookTicker";
pub const TAG_PREMIUM_INDEX: &str = "premiumIndex";
pub const TAG_FUNDING_INFO: &str = "fundingInfo";
/// Prefix of the per-symbol open-interest tags: `oi:BTCUSDT`.
pub const TAG_OPEN_INTEREST_PREFIX: &str = "oi:";

/// Status (normalized by `parse`) of instruments whose open interest is polled.
const OI_STATUS: &str = "trading";

/// Requests for one cycle of `kind`. Unknown kinds are a permanent error.
pub fn build_requests(kind: &str, ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(vec![exchange_info()]),
        KIND_TICKERS => Ok(vec![
            HttpRequest::get(PATH_TICKER_24HR, TAG_TICKER_24HR).weight(40),
            HttpRequest::get(PATH_BOOK_TICKER, TAG_BOOK_TICKER).weight(5),
            premium_index(),
        ]),
        KIND_FUNDING => Ok(vec![
            premium_index(),
            HttpRequest::get(PATH_FUNDING_INFO, TAG_FUNDING_INFO).weight(1),
        ]),
        KIND_OPEN_INTEREST => Ok(open_interest(ctx)),
        other => Err(PluginError::permanent(
            "",
            format!("binance: unknown kind `{other}`"),
        )),
    }
}

fn exchange_info() -> HttpRequest {
    HttpRequest::get(PATH_EXCHANGE_INFO, TAG_EXCHANGE_INFO).weight(1)
}

/// All symbols (no `symbol` parameter): weight 10.
fn premium_index() -> HttpRequest {
    HttpRequest::get(PATH_PREMIUM_INDEX, TAG_PREMIUM_INDEX).weight(10)
}

/// One request per trading perpetual in ctx, plus the premium index for mark prices. Nothing at
/// all when no instrument is trading (the premium index alone would produce no record).
fn open_interest(ctx: &Context<'_>) -> Vec<HttpRequest> {
    let mut requests: Vec<HttpRequest> = ctx
        .instruments
        .iter()
        .filter(|r| r.kind == RecordKind::INSTRUMENT)
        .filter(|r| r.status.as_ref().into_option().map(|s| s.as_str()) == Some(OI_STATUS))
        .map(|r| {
            let symbol = r.raw_symbol.as_str();
            HttpRequest::get(
                PATH_OPEN_INTEREST,
                format!("{TAG_OPEN_INTEREST_PREFIX}{symbol}"),
            )
            .query("symbol", symbol)
            .weight(1)
        })
        .collect();
    if !requests.is_empty() {
        requests.push(premium_index());
    }
    requests
}
