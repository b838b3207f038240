//! Response parsing per data kind: dYdX v4 indexer answers → normalized [`Record`]s.
//!
//! Owns: field mapping (which indexer field fills which record field), the unified symbol
//! (`BTC-USD` → `BTC/USDC:USDC`: ccxt forces quote and settle to USDC, whatever the ticker
//! says), the status words, the ISO-8601 block time of `/v4/height` as `exchange_ts`, and the
//! hourly funding semantics.
//! Must not: classify failures itself (`errors.rs` does), invent values (a missing input stays
//! `RNone`, never 0: the bulk answer has no last trade, no top of book and no base volume, so
//! `last`, `bid`, `ask` and `volume_24h_base` stay absent), compute `rate_8h`/`rate_annualized`
//! (the host does), read a clock, panic, or let one bad response discard the records of the
//! others.
//!
//! Prices (exchange-notes §10.1): dYdX v4 margins and liquidates on the oracle price and the
//! bulk answer carries no other, so `oraclePrice` is both `mark` and `index`
//! (`extra.mark_source = oracle`).
//!
//! Funding (exchange-notes §1.3, §10.1): paid every hour. `nextFundingRate` is the running
//! estimate of the **current** hour's rate, the one settled at the next full hour: it is
//! `rate`, never `predicted_rate` (dYdX publishes no estimate for the hour after). The
//! interval is the protocol's 1 h (`default`: `defaultFundingRate1H`, hourly history);
//! `next_funding_ts` is the first full hour after the indexer's latest block time (after the
//! answer's arrival when `/v4/height` failed), said in `extra.next_funding_ts_source`. No caps
//! are served: `rate_cap`/`rate_floor` stay absent.

use plugin_api::{
    abi_stable::std_types::ROption, Context, HttpResponse, IntervalSource, MarketType, ParseOutput,
    PluginError, Record, RecordKind,
};
use plugin_kit::{symbols, time::iso8601_ms, SkippedSymbols};

use crate::{
    errors::open,
    model::{Height, MarketRow, PerpetualMarkets},
    requests::{KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, TAG_HEIGHT, TAG_MARKETS},
    CURRENCY_RENAMES,
};

/// dYdX funds every hour (protocol; `defaultFundingRate1H`, hourly `historicalFunding`).
pub const FUNDING_INTERVAL_HOURS: f64 = 1.0;
const HOUR_MS: i64 = 3_600_000;
/// ccxt's quote and settle of every dYdX market, whatever the ticker's suffix (`-USD`).
pub const QUOTE: &str = "USDC";
/// Sizes are in base units (ccxt: `contractSize` 1, "trades seem in absolute size").
const CONTRACT_SIZE: f64 = 1.0;
/// Separates base and quote in a ticker (`BTC-USD`); ccxt takes the part before the first.
const TICKER_SEPARATOR: char = '-';

/// `extra` key on instrument records: the indexer's `status` word as sent.
pub const EXTRA_RAW_STATUS: &str = "raw_status";
/// `extra` key on instrument records: `stepSize` (order size step, base units).
pub const EXTRA_STEP_SIZE: &str = "step_size";
/// `extra` key on instrument records: `marketType` (`CROSS`/`ISOLATED` margin).
pub const EXTRA_MARGIN_MODE: &str = "margin_mode";
/// `extra` key on instrument records: `clobPairId`.
pub const EXTRA_CLOB_PAIR_ID: &str = "clob_pair_id";
/// `extra` key on instrument records: `initialMarginFraction`.
pub const EXTRA_INITIAL_MARGIN_FRACTION: &str = "initial_margin_fraction";
/// `extra` key on ticker and funding records: where `mark` comes from (`oracle`).
pub const EXTRA_MARK_SOURCE: &str = "mark_source";
pub const ORACLE: &str = "oracle";
/// `extra` key on ticker records: `open_interest_quote` is `openInterest × oraclePrice`.
pub const EXTRA_OI_QUOTE_DERIVED: &str = "oi_quote_derived";
/// `extra` keys on ticker records: `trades24H` and `priceChange24H` as sent.
pub const EXTRA_TRADES_24H: &str = "trades_24h";
pub const EXTRA_PRICE_CHANGE_24H: &str = "price_change_24h";
/// `extra` key on ticker and funding records: the block `exchange_ts` is the time of.
pub const EXTRA_BLOCK_HEIGHT: &str = "block_height";
/// `extra` key on funding records: which figure `rate` is.
pub const EXTRA_RATE_FIGURE: &str = "rate_figure";
/// Its value: the running estimate of the current hour (`nextFundingRate`).
pub const CURRENT_HOUR_ESTIMATE: &str = "current_hour_estimate";
/// `extra` key on funding records: `defaultFundingRate1H` as sent.
pub const EXTRA_DEFAULT_RATE_1H: &str = "default_funding_rate_1h";
/// `extra` key on funding records: what the next full hour was counted from.
pub const EXTRA_NEXT_FUNDING_TS_SOURCE: &str = "next_funding_ts_source";
pub const FROM_BLOCK_TIME: &str = "block_time";
pub const FROM_RECEIVED_TS: &str = "received_ts";

/// Record status words for the indexer's.
const TRADING: &str = "trading";
const PRE_LAUNCH: &str = "pre_launch";
const HALTED: &str = "halted";
const SETTLING: &str = "settling";
/// Markets without prices worth publishing: not live yet, or settled for delisting.
const NOT_LIVE: [&str; 2] = ["INITIALIZING", "FINAL_SETTLEMENT"];

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx),
        KIND_TICKERS => parse_markets(responses, ctx, ticker_record),
        KIND_FUNDING => parse_markets(responses, ctx, funding_record),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (dydx knows instruments, tickers, funding)"),
        )),
    }
}

/// A value as an `extra` string.
fn text(v: f64) -> String {
    format!("{v}")
}

/// The product of two present, finite values.
fn mul(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? * b?).filter(|v| v.is_finite())
}

/// `Some(s)` unless `s` is missing, empty or blank.
fn non_empty<'s>(s: &'s Option<std::borrow::Cow<'_, str>>) -> Option<&'s str> {
    s.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// The record status of an indexer status word; an unknown word is kept, lower-cased.
pub fn status_word(raw: &str) -> String {
    match raw {
        "ACTIVE" => TRADING.into(),
        "INITIALIZING" => PRE_LAUNCH.into(),
        // Open orders may be cancelled or only resting orders placed: nothing trades.
        "PAUSED" | "CANCEL_ONLY" | "POST_ONLY" => HALTED.into(),
        "FINAL_SETTLEMENT" => SETTLING.into(),
        other => other.to_ascii_lowercase(),
    }
}

/// The first full hour after `ms`: the settlement of the hour running at `ms`.
pub fn next_full_hour(ms: i64) -> i64 {
    (ms.div_euclid(HOUR_MS) + 1) * HOUR_MS
}

/// The ticker of a market: the object key (the row's `ticker` is the same when sent).
fn ticker_of<'r>(key: &'r str, row: &'r MarketRow<'_>, out: &mut ParseOutput) -> &'r str {
    if let Some(ticker) = non_empty(&row.ticker) {
        if ticker != key {
            out.warn(format!(
                "market `{key}` says its ticker is `{ticker}`; the key is used"
            ));
        }
    }
    key
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unnamed = SkippedSymbols::new();
    for response in responses {
        if response.tag() != TAG_MARKETS {
            out.warn(format!(
                "ignored a response with an unexpected tag `{}`",
                response.tag()
            ));
            continue;
        }
        let answer = match open::<PerpetualMarkets<'_>>(response, ctx.now_ms) {
            Ok(answer) => answer,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if answer.markets.is_empty() {
            out.warn(format!(
                "[{}] the indexer listed no perpetual markets in a successful response",
                response.tag()
            ));
        }
        for (key, row) in &answer.markets {
            let ticker = ticker_of(key, row, &mut out);
            match instrument_record(ticker, row, ctx, response.received_ts) {
                Some(record) => out.records.push(record),
                None => unnamed.add(ticker),
            }
        }
    }
    unnamed.report(&mut out, "without a base currency in the ticker");
    out
}

/// One instrument record, or `None` when the ticker names no base currency (`-USD`, ``).
fn instrument_record(
    ticker: &str,
    row: &MarketRow<'_>,
    ctx: &Context<'_>,
    received_ts: i64,
) -> Option<Record> {
    let base = ticker
        .split(TICKER_SEPARATOR)
        .next()
        .map(str::trim)
        .filter(|b| !b.is_empty())?;
    let mut record = symbols::instrument_record(
        ctx,
        ticker,
        base,
        QUOTE,
        QUOTE,
        MarketType::LINEAR_PERPETUAL,
        received_ts,
        CURRENCY_RENAMES,
    );
    record.contract_size = ROption::RSome(CONTRACT_SIZE);
    record.tick_size = row.tick_size.filter(|v| *v > 0.0).into();
    if let Some(raw) = non_empty(&row.status) {
        record.status = ROption::RSome(status_word(raw).into());
        record.push_extra(EXTRA_RAW_STATUS, raw);
    }
    if let Some(step) = row.step_size.filter(|v| *v > 0.0) {
        record.push_extra(EXTRA_STEP_SIZE, text(step));
    }
    if let Some(mode) = non_empty(&row.market_type) {
        record.push_extra(EXTRA_MARGIN_MODE, mode);
    }
    if let Some(id) = non_empty(&row.clob_pair_id) {
        record.push_extra(EXTRA_CLOB_PAIR_ID, id);
    }
    if let Some(imf) = row.initial_margin_fraction {
        record.push_extra(EXTRA_INITIAL_MARGIN_FRACTION, text(imf));
    }
    Some(record)
}

// ------------------------------------------------------------------------------------------
// tickers and funding: the markets answer, stamped with the latest block
// ------------------------------------------------------------------------------------------

/// The latest indexed block: its height and its time (Unix ms from ISO-8601).
#[derive(Debug, Default, Clone)]
struct Block {
    height: Option<String>,
    time_ms: Option<i64>,
}

/// The block of a `/v4/height` answer; a time that is no ISO-8601 date-time with a zone is a
/// warning and stays absent (never 0, never the local clock).
fn block_of(
    response: &HttpResponse<'_>,
    ctx: &Context<'_>,
    out: &mut ParseOutput,
) -> Option<Block> {
    let height = match open::<Height<'_>>(response, ctx.now_ms) {
        Ok(height) => height,
        Err(e) => {
            out.errors.push(e);
            return None;
        }
    };
    let time = non_empty(&height.time);
    let number = non_empty(&height.height);
    if time.is_none() && number.is_none() {
        out.errors.push(PluginError::parse(
            response.tag(),
            format!(
                "neither `height` nor `time` in the body: {}",
                plugin_kit::json::snippet(response.body())
            ),
        ));
        return None;
    }
    let time_ms = time.and_then(iso8601_ms);
    if let (Some(raw), None) = (time, time_ms) {
        out.warn(format!(
            "[{}] block time `{raw}` is no ISO-8601 date-time with a zone: exchange_ts left absent",
            response.tag()
        ));
    }
    Some(Block {
        height: number.map(str::to_owned),
        time_ms,
    })
}

/// Builds one record of a market row of a known instrument; `None` when the row has nothing
/// for this kind.
type Build = fn(&MarketRow<'_>, &Record, i64, &Block) -> Option<Record>;

fn parse_markets(responses: &[HttpResponse<'_>], ctx: &Context<'_>, build: Build) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut block = Block::default();
    let mut answers = Vec::new();
    for response in responses {
        match response.tag() {
            TAG_MARKETS => match open::<PerpetualMarkets<'_>>(response, ctx.now_ms) {
                Ok(answer) => answers.push((answer, response.received_ts)),
                Err(e) => out.errors.push(e),
            },
            TAG_HEIGHT => {
                if let Some(b) = block_of(response, ctx, &mut out) {
                    block = b;
                }
            }
            other => out.warn(format!(
                "ignored a response with an unexpected tag `{other}`"
            )),
        }
    }
    let mut unknown = SkippedSymbols::new();
    let mut not_live = SkippedSymbols::new();
    let mut empty = SkippedSymbols::new();
    for (answer, received_ts) in &answers {
        for (key, row) in &answer.markets {
            let ticker = ticker_of(key, row, &mut out);
            if non_empty(&row.status).is_some_and(|s| NOT_LIVE.contains(&s)) {
                not_live.add(ticker);
                continue;
            }
            let Some(instrument) = ctx.instrument(ticker) else {
                unknown.add(ticker);
                continue;
            };
            match build(row, instrument, *received_ts, &block) {
                Some(record) => out.records.push(record),
                None => empty.add(ticker),
            }
        }
    }
    unknown.report(&mut out, "not in the instrument list");
    not_live.report(&mut out, "not live (INITIALIZING or FINAL_SETTLEMENT)");
    empty.report(&mut out, "without the figures of this kind");
    out
}

/// `exchange_ts` and the block height of `block`, where known.
fn stamp(record: &mut Record, block: &Block) {
    record.exchange_ts = block.time_ms.into();
    if let Some(height) = &block.height {
        record.push_extra(EXTRA_BLOCK_HEIGHT, height.as_str());
    }
}

fn ticker_record(
    row: &MarketRow<'_>,
    instrument: &Record,
    received_ts: i64,
    block: &Block,
) -> Option<Record> {
    let mut record = Record::for_instrument(RecordKind::TICKER, instrument, received_ts);
    stamp(&mut record, block);
    // No last trade, no top of book, no base volume in the bulk answer: those stay absent.
    record.mark = row.oracle_price.into();
    record.index = row.oracle_price.into();
    if row.oracle_price.is_some() {
        record.push_extra(EXTRA_MARK_SOURCE, ORACLE);
    }
    record.volume_24h_quote = row.volume_24h.into();
    record.open_interest_base = row.open_interest.into();
    let oi_quote = mul(row.open_interest, row.oracle_price);
    if oi_quote.is_some() {
        record.push_extra(EXTRA_OI_QUOTE_DERIVED, "true");
    }
    record.open_interest_quote = oi_quote.into();
    if let Some(trades) = row.trades_24h {
        record.push_extra(EXTRA_TRADES_24H, text(trades));
    }
    if let Some(change) = row.price_change_24h {
        record.push_extra(EXTRA_PRICE_CHANGE_24H, text(change));
    }
    Some(record)
}

/// Hourly funding: `rate` is `nextFundingRate` (the current hour's running estimate), 1 h
/// `default`, settling at the next full hour after the block time; nothing predicted. A row
/// without `nextFundingRate` gives no funding record.
fn funding_record(
    row: &MarketRow<'_>,
    instrument: &Record,
    received_ts: i64,
    block: &Block,
) -> Option<Record> {
    let rate = row.next_funding_rate?;
    let mut record = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    stamp(&mut record, block);
    record.rate = ROption::RSome(rate);
    record.interval_hours = ROption::RSome(FUNDING_INTERVAL_HOURS);
    record.interval_source = ROption::RSome(IntervalSource::DEFAULT);
    let (from, source) = match block.time_ms {
        Some(ms) => (ms, FROM_BLOCK_TIME),
        None => (received_ts, FROM_RECEIVED_TS),
    };
    record.next_funding_ts = ROption::RSome(next_full_hour(from));
    record.push_extra(EXTRA_NEXT_FUNDING_TS_SOURCE, source);
    record.push_extra(EXTRA_RATE_FIGURE, CURRENT_HOUR_ESTIMATE);
    record.mark = row.oracle_price.into();
    record.index = row.oracle_price.into();
    if row.oracle_price.is_some() {
        record.push_extra(EXTRA_MARK_SOURCE, ORACLE);
    }
    if let Some(default) = row.default_funding_rate_1h {
        record.push_extra(EXTRA_DEFAULT_RATE_1H, text(default));
    }
    Some(record)
}
