//! Serde wire types for the Deribit public methods this plugin reads.
//!
//! Owns: the shape of the rows inside each answer's `result` (`errors.rs` opens the JSON-RPC
//! envelope), field names as Deribit spells them (snake_case), and which fields are required
//! (a row without `instrument_name` is the wrong shape, hence a `PARSE` error). Numbers go
//! through plugin-kit's `opt_f64`/`opt_ts`: Deribit sends JSON numbers, and `null`, `""` or a
//! missing field stay `None`. Unknown fields are ignored: Deribit adds fields without notice.
//! Must not: interpret values (units, perpetual or not, inverse or not): that is `parse`'s job.

use std::borrow::Cow;

use plugin_kit::de::{opt_f64, opt_ts};
use serde::Deserialize;

/// A string borrowed from the response body when it has no escapes.
pub type Str<'a> = Cow<'a, str>;

/// The JSON-RPC error object: `{"code":10028,"message":"too_many_requests","data":…}`.
#[derive(Debug, Deserialize)]
pub struct RpcError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
}

/// One row of `public/get_instruments`.
#[derive(Debug, Deserialize)]
pub struct InstrumentRow<'a> {
    /// `BTC-PERPETUAL`, `BTC_USDC-PERPETUAL`, `BTC-27DEC24`.
    #[serde(borrow)]
    pub instrument_name: Str<'a>,
    /// `future`, `option`, `future_combo`, ...
    #[serde(borrow, default)]
    pub kind: Option<Str<'a>>,
    /// `perpetual` on perpetuals; `day`/`week`/`month` on dated futures.
    #[serde(borrow, default)]
    pub settlement_period: Option<Str<'a>>,
    /// `reversed` (inverse) or `linear`.
    #[serde(borrow, default)]
    pub instrument_type: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub base_currency: Option<Str<'a>>,
    /// The quote ccxt uses (`USD` on inverse, `USDC` on linear perpetuals).
    #[serde(borrow, default)]
    pub counter_currency: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub quote_currency: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub settlement_currency: Option<Str<'a>>,
    /// Inverse: USD per contract (10 on `BTC-PERPETUAL`); linear: base per contract.
    #[serde(default, deserialize_with = "opt_f64")]
    pub contract_size: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub tick_size: Option<f64>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub creation_timestamp: Option<i64>,
    /// Year 3000 (32503708800000) on perpetuals: no expiry at all.
    #[serde(default, deserialize_with = "opt_ts")]
    pub expiration_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub max_leverage: Option<f64>,
    /// `btc_usd`, `btc_usdc`: the index the instrument margins on.
    #[serde(borrow, default)]
    pub price_index: Option<Str<'a>>,
}

/// One row of `public/get_book_summary_by_currency`.
#[derive(Debug, Deserialize)]
pub struct SummaryRow<'a> {
    #[serde(borrow)]
    pub instrument_name: Str<'a>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub bid_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ask_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    /// For perpetuals the index price (they never deliver; the ticker shows both equal).
    #[serde(default, deserialize_with = "opt_f64")]
    pub estimated_delivery_price: Option<f64>,
    /// 24 h volume in the base coin.
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume: Option<f64>,
    /// 24 h volume in USD.
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume_usd: Option<f64>,
    /// Inverse: USD (contracts × contract size); linear: base coin (UNCONFIRMED).
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    /// The instantaneous funding (perpetuals only).
    #[serde(default, deserialize_with = "opt_f64")]
    pub current_funding: Option<f64>,
    /// The funding of the last 8 hours, as a fraction (perpetuals only).
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_8h: Option<f64>,
    /// The time of the summary (ms).
    #[serde(default, deserialize_with = "opt_ts")]
    pub creation_timestamp: Option<i64>,
}
