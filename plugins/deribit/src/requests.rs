//! Request descriptors per data kind: which Deribit public JSON-RPC-over-GET methods one
//! collection cycle reads. Deribit lists instruments and book summaries per currency, so every
//! kind sends one request per settlement currency of [`CURRENCIES`].
//!
//! Owns: paths, query parameters, weights and tags (the tags `parse.rs` routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpRequest, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

/// Every public method is under this prefix and charged to the same budget.
pub const PUBLIC_PREFIX: &str = "/api/v2/public/";
/// Instruments of one currency (`?currency=BTC&kind=future`).
pub const PATH_INSTRUMENTS: &str = "/api/v2/public/get_instruments";
/// Ticker-like summaries of every instrument of one currency, funding fields on perpetuals.
pub const PATH_BOOK_SUMMARY: &str = "/api/v2/public/get_book_summary_by_currency";

/// The settlement currencies whose perpetuals are collected: the inverse `BTC-PERPETUAL` and
/// `ETH-PERPETUAL`, and the linear `…_USDC-PERPETUAL` family listed under `USDC`.
/// UNCONFIRMED (exchange-notes §11.1): that no other currency lists perpetuals today
/// (cryptofeed also asks `SOL`, whose inverse perpetual Deribit has replaced by `SOL_USDC`).
pub const CURRENCIES: [&str; 3] = ["BTC", "ETH", "USDC"];
/// Deribit's `kind` filter: futures (perpetuals are futures with `settlement_period:
/// perpetual`); options and combos are never asked for.
const KIND_FUTURE: &str = "future";

/// Tags: `instruments:BTC`, `summary:USDC`.
pub const TAG_INSTRUMENTS_PREFIX: &str = "instruments:";
pub const TAG_SUMMARY_PREFIX: &str = "summary:";

/// One unit of Deribit's public budget per request (every public method costs the same).
const WEIGHT: u32 = 1;

fn per_currency(path: &str, tag_prefix: &str) -> Vec<HttpRequest> {
    CURRENCIES
        .iter()
        .map(|currency| {
            HttpRequest::get(path, format!("{tag_prefix}{currency}"))
                .query("currency", *currency)
                .query("kind", KIND_FUTURE)
                .weight(WEIGHT)
        })
        .collect()
}

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(per_currency(PATH_INSTRUMENTS, TAG_INSTRUMENTS_PREFIX)),
        KIND_TICKERS | KIND_FUNDING => Ok(per_currency(PATH_BOOK_SUMMARY, TAG_SUMMARY_PREFIX)),
        other => Err(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (deribit knows instruments, tickers, funding)"),
        )),
    }
}
