//! Request descriptors per data kind: which BingX perpetual-swap public endpoints one collection
//! cycle reads, and which instruments the per-symbol open-interest round asks for.
//!
//! Owns: paths, query parameters, weights and tags (the tags `parse.rs` routes on), which
//! instruments the open-interest round asks for.
//! Must not: perform I/O, read clocks, keep state, pace anything (the host's rate budgets do,
//! from the rules `info()` declares), or parse anything.
//!
//! | kind            | requests                                                  | tags              |
//! |-----------------|-----------------------------------------------------------|-------------------|
//! | `instruments`   | `GET /openApi/swap/v2/quote/contracts`                    | `contracts`       |
//! | `tickers`       | `GET …/quote/ticker` + `GET …/quote/premiumIndex` (bulk)  | `ticker`, `premiumIndex` |
//! | `funding`       | `GET …/quote/premiumIndex` (bulk)                         | `premiumIndex`    |
//! | `open_interest` | `GET …/quote/openInterest?symbol=X` per instrument that can hold positions, + `GET …/quote/premiumIndex` (bulk) for the marks | `oi:X`, `premiumIndex` |
//!
//! Every request weighs 1 (ccxt: cost 1 for every `quote/*` endpoint, exchange-notes §8.2).

use plugin_api::{Context, HttpRequest, PluginError, Record, RecordKind};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";
pub const KIND_OPEN_INTEREST: &str = "open_interest";

/// Every public endpoint is under this prefix (one per-IP budget).
pub const PATH_PREFIX: &str = "/openApi/";
/// Every USDT-M perpetual contract.
pub const PATH_CONTRACTS: &str = "/openApi/swap/v2/quote/contracts";
/// 24 h tickers of every perpetual (no `symbol`: bulk).
pub const PATH_TICKER: &str = "/openApi/swap/v2/quote/ticker";
/// Mark, index and funding of every perpetual (no `symbol`: bulk).
pub const PATH_PREMIUM_INDEX: &str = "/openApi/swap/v2/quote/premiumIndex";
/// Open interest of ONE perpetual (`symbol` required: there is no bulk form).
pub const PATH_OPEN_INTEREST: &str = "/openApi/swap/v2/quote/openInterest";

pub const TAG_CONTRACTS: &str = "contracts";
pub const TAG_TICKER: &str = "ticker";
pub const TAG_PREMIUM_INDEX: &str = "premiumIndex";
/// Prefix of the per-symbol open-interest tags: `oi:BTC-USDT`.
pub const TAG_OPEN_INTEREST_PREFIX: &str = "oi:";

/// Weight of every request (ccxt cost 1).
pub const WEIGHT: u32 = 1;

/// Instrument statuses (as `parse` normalizes them) whose open interest is asked for: every
/// perpetual that can hold positions. Not `pre_launch` (nothing to hold yet), not `delisted`.
pub const OI_STATUSES: [&str; 3] = ["trading", "restricted", "reduce_only"];

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(vec![get(PATH_CONTRACTS, TAG_CONTRACTS)]),
        KIND_TICKERS => Ok(vec![
            get(PATH_TICKER, TAG_TICKER),
            get(PATH_PREMIUM_INDEX, TAG_PREMIUM_INDEX),
        ]),
        KIND_FUNDING => Ok(vec![get(PATH_PREMIUM_INDEX, TAG_PREMIUM_INDEX)]),
        KIND_OPEN_INTEREST => Ok(open_interest(ctx)),
        other => Err(PluginError::permanent("", unknown_kind(other))),
    }
}

/// "unknown kind" for `build_requests` and `parse`.
pub fn unknown_kind(kind: &str) -> String {
    format!("unknown kind `{kind}` (bingx knows instruments, tickers, funding, open_interest)")
}

fn get(path: &str, tag: &str) -> HttpRequest {
    HttpRequest::get(path, tag).weight(WEIGHT)
}

/// True for an instrument whose open interest the sweep asks for.
pub fn polls_open_interest(instrument: &Record) -> bool {
    instrument.kind == RecordKind::INSTRUMENT
        && instrument
            .status
            .as_ref()
            .into_option()
            .is_some_and(|s| OI_STATUSES.contains(&s.as_str()))
}

/// The open-interest round: one request per instrument that [`polls_open_interest`], in ctx's
/// order (sorted by raw symbol), then one bulk premium-index request for the marks that value
/// it in base coin. One round, as the host paces a per-symbol round (a round of pages would be
/// paced page by page). Empty when no instrument holds positions (the marks alone would give
/// nothing).
pub fn open_interest(ctx: &Context<'_>) -> Vec<HttpRequest> {
    let mut requests: Vec<HttpRequest> = ctx
        .instruments
        .iter()
        .filter(|r| polls_open_interest(r))
        .map(|r| {
            let symbol = r.raw_symbol.as_str();
            get(
                PATH_OPEN_INTEREST,
                &format!("{TAG_OPEN_INTEREST_PREFIX}{symbol}"),
            )
            .query("symbol", symbol)
        })
        .collect();
    if !requests.is_empty() {
        requests.push(get(PATH_PREMIUM_INDEX, TAG_PREMIUM_INDEX));
    }
    requests
}
