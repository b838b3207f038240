//! The normalized record (one type for instruments, tickers and funding) and a parse result.
//! Missing values are `RNone`, never 0. Field meanings are the public message format:
//! see docs/message-format.md and schemas/records.schema.json.

use abi_stable::{
    std_types::{ROption, RString, RVec},
    StableAbi,
};

use crate::{Context, HttpRequest, IdentityStr, KeyValue, PluginError};

/// What a record describes. A `u8` newtype: unknown values are rejected by older hosts.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKind(pub u8);

impl RecordKind {
    pub const INSTRUMENT: Self = Self(0);
    pub const TICKER: Self = Self(1);
    pub const FUNDING: Self = Self(2);

    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Self::INSTRUMENT => Some("instrument"),
            Self::TICKER => Some("ticker"),
            Self::FUNDING => Some("funding"),
            _ => None,
        }
    }
}

/// Contract type. Only perpetuals are collected today; dated contracts are skipped by plugins.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MarketType(pub u8);

impl MarketType {
    /// Quoted and settled in the quote currency (`BTC/USDT:USDT`).
    pub const LINEAR_PERPETUAL: Self = Self(0);
    /// Quoted in USD, settled in the base coin (`BTC/USD:BTC`).
    pub const INVERSE_PERPETUAL: Self = Self(1);

    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Self::LINEAR_PERPETUAL => Some("linear_perpetual"),
            Self::INVERSE_PERPETUAL => Some("inverse_perpetual"),
            _ => None,
        }
    }
}

/// Where a funding record's `interval_hours` came from.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntervalSource(pub u8);

impl IntervalSource {
    /// The exchange stated the interval for this instrument (Bybit `fundingInterval`, Binance
    /// `fundingInfo`).
    pub const REPORTED: Self = Self(0);
    /// Derived from the exchange's timestamps (OKX `nextFundingTime - fundingTime`).
    pub const INFERRED: Self = Self(1);
    /// The exchange's documented default (Binance: 8h for symbols absent from `fundingInfo`).
    pub const DEFAULT: Self = Self(2);

    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Self::REPORTED => Some("reported"),
            Self::INFERRED => Some("inferred"),
            Self::DEFAULT => Some("default"),
            _ => None,
        }
    }
}

/// One normalized record. Identity fields are always set ([`IdentityStr`]: inline text, so a
/// record for a known instrument is made without allocating); the fields of other kinds stay
/// `RNone`.
/// A plugin may return *partial* records (only some fields set, e.g. open interest): the host
/// merges them by (kind, symbol) onto what it already knows.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: RecordKind,
    /// Exchange instance id (the host overwrites it with the configured id).
    pub exchange: IdentityStr,
    /// Unified symbol, ccxt convention: `BTC/USDT:USDT`, inverse `BTC/USD:BTC`.
    pub symbol: IdentityStr,
    /// The exchange's own symbol (`BTCUSDT`, `BTC-USDT-SWAP`).
    pub raw_symbol: IdentityStr,
    pub base: IdentityStr,
    pub quote: IdentityStr,
    pub settle: IdentityStr,
    pub market_type: MarketType,
    /// The exchange's timestamp for the data, Unix ms.
    pub exchange_ts: ROption<i64>,
    /// When the host received the response, Unix ms.
    pub received_ts: i64,

    // --- ticker ---
    pub last: ROption<f64>,
    pub bid: ROption<f64>,
    pub ask: ROption<f64>,
    /// Mark price (ticker and funding).
    pub mark: ROption<f64>,
    /// Index price (ticker and funding).
    pub index: ROption<f64>,
    /// 24h volume in base units (contracts × contract size).
    pub volume_24h_base: ROption<f64>,
    /// 24h volume in quote currency.
    pub volume_24h_quote: ROption<f64>,
    pub open_interest_base: ROption<f64>,
    pub open_interest_quote: ROption<f64>,

    // --- funding ---
    /// Funding rate of the current period (the one that settles at `next_funding_ts`).
    pub rate: ROption<f64>,
    /// Funding interval in hours (also set on instrument records when the exchange lists it).
    pub interval_hours: ROption<f64>,
    pub interval_source: ROption<IntervalSource>,
    pub next_funding_ts: ROption<i64>,
    /// The exchange's prediction for the period after the current one, where it gives one.
    pub predicted_rate: ROption<f64>,
    /// `rate` scaled to 8 hours. The host computes it; plugins leave it `RNone`.
    pub rate_8h: ROption<f64>,
    /// `rate` × periods per year. The host computes it; plugins leave it `RNone`.
    pub rate_annualized: ROption<f64>,
    pub rate_cap: ROption<f64>,
    pub rate_floor: ROption<f64>,

    // --- instrument ---
    /// Base units per contract (1 for Binance USDⓈ-M; OKX `ctVal`); for inverse contracts the
    /// quote (USD) value per contract.
    pub contract_size: ROption<f64>,
    pub tick_size: ROption<f64>,
    /// `trading`, `pre_launch`, `halted`, `settling`, `delisted` (the exchange's own word goes
    /// to `extra` as `raw_status`).
    pub status: ROption<RString>,
    pub listing_ts: ROption<i64>,
    pub delisting_ts: ROption<i64>,

    /// Exchange-specific extras, forwarded as an object.
    pub extra: RVec<KeyValue>,
}

impl Record {
    /// An empty record of `kind` with identity fields set. Everything else is `RNone`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: RecordKind,
        exchange: &str,
        raw_symbol: &str,
        base: &str,
        quote: &str,
        settle: &str,
        market_type: MarketType,
        received_ts: i64,
    ) -> Self {
        Self {
            exchange: exchange.into(),
            symbol: unified_symbol(base, quote, settle).into(),
            raw_symbol: raw_symbol.into(),
            base: base.into(),
            quote: quote.into(),
            settle: settle.into(),
            market_type,
            ..Self::empty(kind, received_ts)
        }
    }

    /// An empty record of `kind` for the same instrument as `instrument` (identity copied).
    pub fn for_instrument(kind: RecordKind, instrument: &Record, received_ts: i64) -> Self {
        Self {
            kind,
            exchange: instrument.exchange.clone(),
            symbol: instrument.symbol.clone(),
            raw_symbol: instrument.raw_symbol.clone(),
            base: instrument.base.clone(),
            quote: instrument.quote.clone(),
            settle: instrument.settle.clone(),
            market_type: instrument.market_type,
            ..Self::empty(kind, received_ts)
        }
    }

    /// A record of `kind` with empty identity strings (no allocation) and every value `RNone`.
    fn empty(kind: RecordKind, received_ts: i64) -> Self {
        Self {
            kind,
            exchange: IdentityStr::new(),
            symbol: IdentityStr::new(),
            raw_symbol: IdentityStr::new(),
            base: IdentityStr::new(),
            quote: IdentityStr::new(),
            settle: IdentityStr::new(),
            market_type: MarketType::LINEAR_PERPETUAL,
            exchange_ts: ROption::RNone,
            received_ts,
            last: ROption::RNone,
            bid: ROption::RNone,
            ask: ROption::RNone,
            mark: ROption::RNone,
            index: ROption::RNone,
            volume_24h_base: ROption::RNone,
            volume_24h_quote: ROption::RNone,
            open_interest_base: ROption::RNone,
            open_interest_quote: ROption::RNone,
            rate: ROption::RNone,
            interval_hours: ROption::RNone,
            interval_source: ROption::RNone,
            next_funding_ts: ROption::RNone,
            predicted_rate: ROption::RNone,
            rate_8h: ROption::RNone,
            rate_annualized: ROption::RNone,
            rate_cap: ROption::RNone,
            rate_floor: ROption::RNone,
            contract_size: ROption::RNone,
            tick_size: ROption::RNone,
            status: ROption::RNone,
            listing_ts: ROption::RNone,
            delisting_ts: ROption::RNone,
            extra: RVec::new(),
        }
    }

    /// Shortcut used by plugins: `ctx.exchange_id` as the exchange.
    #[allow(clippy::too_many_arguments)]
    pub fn in_context(
        kind: RecordKind,
        ctx: &Context<'_>,
        raw_symbol: &str,
        base: &str,
        quote: &str,
        settle: &str,
        market_type: MarketType,
        received_ts: i64,
    ) -> Self {
        Self::new(
            kind,
            ctx.exchange_id.as_str(),
            raw_symbol,
            base,
            quote,
            settle,
            market_type,
            received_ts,
        )
    }

    pub fn push_extra(&mut self, key: &str, value: impl Into<RString>) {
        self.extra.push(KeyValue::new(key, value));
    }
}

/// What `parse` returns.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Default)]
pub struct ParseOutput {
    pub records: RVec<Record>,
    /// Follow-up requests of the same kind (next page of a cursor-paginated list). The host
    /// executes them and calls `parse` again with their responses.
    pub next_requests: RVec<HttpRequest>,
    /// Classified failures, each naming the request (tag) it concerns.
    pub errors: RVec<PluginError>,
    /// Non-fatal oddities (skipped rows, unexpected values); the host logs and counts them.
    pub warnings: RVec<RString>,
}

impl ParseOutput {
    pub fn from_error(error: PluginError) -> Self {
        let mut out = Self::default();
        out.errors.push(error);
        out
    }

    pub fn warn(&mut self, message: impl Into<RString>) {
        self.warnings.push(message.into());
    }
}

/// The ccxt unified symbol every record carries: `BTC/USDT:USDT`, inverse `BTC/USD:BTC`.
fn unified_symbol(base: &str, quote: &str, settle: &str) -> String {
    let mut s = String::with_capacity(base.len() + quote.len() + settle.len() + 2);
    s.push_str(base);
    s.push('/');
    s.push_str(quote);
    s.push(':');
    s.push_str(settle);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_ccxt_unified() {
        let cases = [
            (("BTC", "USDT", "USDT"), "BTC/USDT:USDT"),
            (("BTC", "USD", "BTC"), "BTC/USD:BTC"),
            (("1000PEPE", "USDT", "USDT"), "1000PEPE/USDT:USDT"),
        ];
        for ((base, quote, settle), want) in cases {
            assert_eq!(unified_symbol(base, quote, settle), want);
            let record = Record::new(
                RecordKind::TICKER,
                "x",
                "raw",
                base,
                quote,
                settle,
                MarketType::LINEAR_PERPETUAL,
                1,
            );
            assert_eq!(record.symbol.as_str(), want);
        }
    }

    /// The sizes docs/benchmarks.md reasons with (memory per record in flight): a change to
    /// `Record`'s layout shows up here first.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn record_and_identity_sizes() {
        assert_eq!(std::mem::size_of::<IdentityStr>(), 40);
        assert_eq!(std::mem::size_of::<Record>(), 696);
    }
}
