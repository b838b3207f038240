//! Response parsing per data kind: Hyperliquid `/info` answers → normalized [`Record`]s.
//!
//! Owns: field mapping (which Hyperliquid field fills which record field), the **positional
//! join** of `meta.universe[i]` with `assetCtxs[i]` (a context carries no coin name: the only
//! key is its position within the same answer), the hourly funding semantics, the tick size
//! derived from `szDecimals`, and which coins are skipped (HIP-3 builder dexes, delisted
//! coins; one warning per call).
//! Must not: classify failures itself (`errors.rs` describes the envelope, plugin-kit
//! classifies), invent values (a missing input stays `RNone`, never 0), compute
//! `rate_8h`/`rate_annualized` (the host does), panic, or let one bad response discard the
//! records of the others.
//!
//! Funding semantics (exchange-notes §1.3, §9.1, errata 2): funding is paid every hour; the
//! context's `funding` is the current hour's rate and is `rate`. `predictedFundings`' `HlPerp`
//! entry predicts the **same** upcoming settlement (its `nextFundingTime` is the next full
//! hour), so it is never `predicted_rate` (which means the period after): it and the other
//! venues' rates (`BinPerp`, `BybitPerp`, ...) go to `extra.predicted_rate_<venue>`. The
//! interval is `fundingIntervalHours` of `HlPerp` when sent (`reported`), else the protocol's
//! 1 h (`default`); `next_funding_ts` is `HlPerp.nextFundingTime`, else the next full hour after
//! the response was received. Caps: none served (UNCONFIRMED in the notes), so `rate_cap` and
//! `rate_floor` stay absent.

use plugin_api::{
    abi_stable::std_types::ROption, Context, HttpResponse, IntervalSource, MarketType, ParseOutput,
    PluginError, Record, RecordKind,
};
use plugin_kit::{
    check_json_body, envelope::check, json_from_body, snippet, symbols, InstrumentTable,
    SkippedSymbols,
};
use serde::Deserialize;

use crate::{
    errors::HyperliquidEnvelope,
    model::{AssetCtx, Meta, MetaAndAssetCtxs, PredictedFundings, UniverseRow, VenueFunding},
    requests::{
        KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, TAG_META, TAG_META_AND_ASSET_CTXS,
        TAG_PREDICTED_FUNDINGS,
    },
    CURRENCY_RENAMES,
};

/// Hyperliquid funds every hour (protocol; ccxt hard-codes `1h`).
pub const FUNDING_INTERVAL_HOURS: f64 = 1.0;
const HOUR_MS: i64 = 3_600_000;
/// Perp prices allow at most `6 - szDecimals` decimals (and 5 significant figures).
const MAX_PERP_PRICE_DECIMALS: f64 = 6.0;
/// Every perp of the main dex is quoted and settled in USDC.
const SETTLE: &str = "USDC";
/// One unit of a perp is one unit of its coin (`kPEPE`: the unit is 1000 PEPE, named `KPEPE`).
const CONTRACT_SIZE: f64 = 1.0;
/// HIP-3 builder-deployed dexes name their coins `dex:COIN`; they need `{"dex":..}` requests and
/// are not collected.
const DEX_SEPARATOR: char = ':';
/// Hyperliquid's own venue in `predictedFundings`.
const HL_VENUE: &str = "HlPerp";

/// `extra` key on instrument records: the asset index (position in `meta.universe`).
pub const EXTRA_ASSET_INDEX: &str = "asset_index";
/// `extra` key on instrument records: `szDecimals`.
pub const EXTRA_SZ_DECIMALS: &str = "sz_decimals";
/// `extra` key on instrument records: `maxLeverage`.
pub const EXTRA_MAX_LEVERAGE: &str = "max_leverage";
/// `extra` key on instrument records: `onlyIsolated` (`true` only when sent).
pub const EXTRA_ONLY_ISOLATED: &str = "only_isolated";
/// `extra` key on instrument records: how `tick_size` was derived (`max_decimals`: the
/// `6 - szDecimals` decimals rule; the 5-significant-figure rule may make it coarser).
pub const EXTRA_TICK_SIZE_DERIVED: &str = "tick_size_derived";
/// `extra` key on instrument records: `isDelisted` as sent (`true`).
pub const EXTRA_RAW_STATUS: &str = "raw_status";
/// `extra` key on ticker records: `midPx` (not a trade price, so not `last`).
pub const EXTRA_MID_PX: &str = "mid_px";
/// `extra` keys on ticker records: `impactPxs` (impact prices, not top of book, so not
/// `bid`/`ask`).
pub const EXTRA_IMPACT_BID: &str = "impact_bid";
pub const EXTRA_IMPACT_ASK: &str = "impact_ask";
/// `extra` key on ticker records: `prevDayPx`.
pub const EXTRA_PREV_DAY_PX: &str = "prev_day_px";
/// `extra` key on ticker and funding records: `premium`.
pub const EXTRA_PREMIUM: &str = "premium";
/// `extra` key on ticker records: `open_interest_quote` is `openInterest × markPx`.
pub const EXTRA_OI_QUOTE_DERIVED: &str = "oi_quote_derived";
/// `extra` key prefix on funding records: a venue's predicted rate of the upcoming settlement
/// (`predicted_rate_hlperp`, `predicted_rate_binperp`, ...).
pub const EXTRA_PREDICTED_PREFIX: &str = "predicted_rate_";

const DELISTED: &str = "delisted";
const TRADING: &str = "trading";

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx),
        KIND_TICKERS => parse_tickers(responses, ctx),
        KIND_FUNDING => parse_funding(responses, ctx),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (hyperliquid knows instruments, tickers, funding)"),
        )),
    }
}

/// The payload of one response (a success body is the payload itself), or its classified
/// error.
fn decode<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<T, PluginError> {
    check::<HyperliquidEnvelope>(response, ctx.now_ms)?;
    let body = response.body();
    check_json_body(body, response.tag())?;
    json_from_body::<T>(body).map_err(|e| {
        PluginError::parse(
            response.tag(),
            format!("unexpected response body ({e}): {}", snippet(body)),
        )
    })
}

/// A value as an `extra` string.
fn text(v: f64) -> String {
    format!("{v}")
}

/// The product of two present, finite values.
fn mul(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? * b?).filter(|v| v.is_finite())
}

/// Coins of another dex (HIP-3): not collected.
fn is_other_dex(name: &str) -> bool {
    name.contains(DEX_SEPARATOR)
}

fn is_delisted(row: &UniverseRow<'_>) -> bool {
    row.is_delisted == Some(true)
}

fn instrument_is_delisted(instrument: &Record) -> bool {
    matches!(instrument.status.as_ref().into_option(), Some(s) if s.as_str() == DELISTED)
}

/// Skipped coins of one call, by reason.
#[derive(Default)]
struct Skipped {
    other_dex: SkippedSymbols,
    delisted: SkippedSymbols,
    unknown: SkippedSymbols,
}

impl Skipped {
    fn report(&self, out: &mut ParseOutput) {
        self.other_dex
            .report(out, "of HIP-3 builder dexes (`dex:COIN`, not collected)");
        self.delisted.report(out, "delisted (isDelisted)");
        self.unknown.report(out, "not in the instrument list");
    }
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut skipped = Skipped::default();
    for response in responses {
        if response.tag() != TAG_META {
            out.warn(format!(
                "ignored a response with an unexpected tag `{}`",
                response.tag()
            ));
            continue;
        }
        let meta = match decode::<Meta<'_>>(response, ctx) {
            Ok(meta) => meta,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if meta.universe.is_empty() {
            out.warn(format!(
                "[{}] Hyperliquid listed no perpetuals in a successful response",
                response.tag()
            ));
        }
        for (index, row) in meta.universe.iter().enumerate() {
            if is_other_dex(&row.name) {
                skipped.other_dex.add(&row.name);
                continue;
            }
            out.records
                .push(instrument_record(row, index, ctx, response.received_ts));
        }
    }
    skipped.report(&mut out);
    out
}

/// The tick size the `6 - szDecimals` decimals rule allows, for a whole `szDecimals` in 0..=6.
fn tick_size(sz_decimals: f64) -> Option<f64> {
    let decimals = MAX_PERP_PRICE_DECIMALS - sz_decimals;
    (sz_decimals.fract() == 0.0 && (0.0..=MAX_PERP_PRICE_DECIMALS).contains(&decimals))
        .then(|| 10f64.powi(-(decimals as i32)))
}

fn instrument_record(
    row: &UniverseRow<'_>,
    index: usize,
    ctx: &Context<'_>,
    received_ts: i64,
) -> Record {
    let mut record = symbols::instrument_record(
        ctx,
        &row.name,
        &row.name,
        SETTLE,
        SETTLE,
        MarketType::LINEAR_PERPETUAL,
        received_ts,
        CURRENCY_RENAMES,
    );
    record.contract_size = ROption::RSome(CONTRACT_SIZE);
    if let Some(tick) = row.sz_decimals.and_then(tick_size) {
        record.tick_size = ROption::RSome(tick);
        record.push_extra(EXTRA_TICK_SIZE_DERIVED, "max_decimals");
    }
    let status = if is_delisted(row) {
        record.push_extra(EXTRA_RAW_STATUS, "isDelisted");
        DELISTED
    } else {
        TRADING
    };
    record.status = ROption::RSome(status.into());
    record.push_extra(EXTRA_ASSET_INDEX, index.to_string());
    if let Some(sz) = row.sz_decimals {
        record.push_extra(EXTRA_SZ_DECIMALS, text(sz));
    }
    if let Some(leverage) = row.max_leverage {
        record.push_extra(EXTRA_MAX_LEVERAGE, text(leverage));
    }
    if row.only_isolated == Some(true) {
        record.push_extra(EXTRA_ONLY_ISOLATED, "true");
    }
    record
}

// ------------------------------------------------------------------------------------------
// the positional join
// ------------------------------------------------------------------------------------------

/// `meta.universe[i]` with `assetCtxs[i]`, or a `PARSE` error when the two lists differ in
/// length (then no position can be trusted).
fn joined<'r, 'a>(
    answer: &'r MetaAndAssetCtxs<'a>,
    tag: &str,
) -> Result<impl Iterator<Item = (&'r UniverseRow<'a>, &'r AssetCtx)>, PluginError> {
    let (meta, ctxs) = answer;
    if meta.universe.len() != ctxs.len() {
        return Err(PluginError::parse(
            tag,
            format!(
                "metaAndAssetCtxs lists {} coins but {} asset contexts: cannot join by position",
                meta.universe.len(),
                ctxs.len()
            ),
        ));
    }
    Ok(meta.universe.iter().zip(ctxs.iter()))
}

/// The collected coins of one joined answer with their instrument (skips counted).
fn collected<'r, 'a, 'c>(
    pairs: impl Iterator<Item = (&'r UniverseRow<'a>, &'r AssetCtx)>,
    ctx: &Context<'c>,
    skipped: &mut Skipped,
) -> Vec<(&'c Record, &'r AssetCtx)>
where
    'a: 'r,
{
    let mut rows = Vec::new();
    for (row, asset) in pairs {
        if is_other_dex(&row.name) {
            skipped.other_dex.add(&row.name);
        } else if is_delisted(row) {
            skipped.delisted.add(&row.name);
        } else {
            match ctx.instrument(&row.name) {
                Some(instrument) if instrument_is_delisted(instrument) => {
                    skipped.delisted.add(&row.name)
                }
                Some(instrument) => rows.push((instrument, asset)),
                None => skipped.unknown.add(&row.name),
            }
        }
    }
    rows
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

fn parse_tickers(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut skipped = Skipped::default();
    for response in responses {
        if response.tag() != TAG_META_AND_ASSET_CTXS {
            out.warn(format!(
                "ignored a response with an unexpected tag `{}`",
                response.tag()
            ));
            continue;
        }
        let result = decode::<MetaAndAssetCtxs<'_>>(response, ctx).and_then(|answer| {
            let pairs = joined(&answer, response.tag())?;
            for (instrument, asset) in collected(pairs, ctx, &mut skipped) {
                out.records
                    .push(ticker_record(instrument, asset, response.received_ts));
            }
            Ok(())
        });
        if let Err(e) = result {
            out.errors.push(e);
        }
    }
    skipped.report(&mut out);
    out
}

fn ticker_record(instrument: &Record, asset: &AssetCtx, received_ts: i64) -> Record {
    let mut record = Record::for_instrument(RecordKind::TICKER, instrument, received_ts);
    // No last-trade price, no top of book in the context: `last`, `bid`, `ask` stay absent.
    record.mark = asset.mark_px.into();
    record.index = asset.oracle_px.into();
    record.volume_24h_base = asset.day_base_vlm.into();
    record.volume_24h_quote = asset.day_ntl_vlm.into();
    record.open_interest_base = asset.open_interest.into();
    let oi_quote = mul(asset.open_interest, asset.mark_px);
    record.open_interest_quote = oi_quote.into();
    if oi_quote.is_some() {
        record.push_extra(EXTRA_OI_QUOTE_DERIVED, "true");
    }
    if let Some(mid) = asset.mid_px {
        record.push_extra(EXTRA_MID_PX, text(mid));
    }
    if let Some((bid, ask)) = asset.impact_pxs {
        if let Some(bid) = bid {
            record.push_extra(EXTRA_IMPACT_BID, text(bid));
        }
        if let Some(ask) = ask {
            record.push_extra(EXTRA_IMPACT_ASK, text(ask));
        }
    }
    if let Some(prev) = asset.prev_day_px {
        record.push_extra(EXTRA_PREV_DAY_PX, text(prev));
    }
    if let Some(premium) = asset.premium {
        record.push_extra(EXTRA_PREMIUM, text(premium));
    }
    record
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

/// One funding record being joined from the two answers of a round.
struct Slot {
    record: Record,
    /// `HlPerp`'s `fundingIntervalHours`.
    reported_interval: Option<f64>,
}

impl Slot {
    fn new(instrument: &Record, received_ts: i64) -> Self {
        Slot {
            record: Record::for_instrument(RecordKind::FUNDING, instrument, received_ts),
            reported_interval: None,
        }
    }

    fn of<'t, 'c>(
        slots: &'t mut InstrumentTable<'c, Slot>,
        raw_symbol: &str,
        received_ts: i64,
    ) -> Option<&'t mut Slot> {
        let slot = slots.entry(raw_symbol, |i| Slot::new(i, received_ts))?;
        slot.record.received_ts = slot.record.received_ts.max(received_ts);
        Some(slot)
    }

    /// Interval and settlement time: reported where `HlPerp` sent them, else the protocol's.
    fn finish(self) -> Record {
        let mut record = self.record;
        match self.reported_interval.filter(|h| *h > 0.0) {
            Some(hours) => {
                record.interval_hours = ROption::RSome(hours);
                record.interval_source = ROption::RSome(IntervalSource::REPORTED);
            }
            None => {
                record.interval_hours = ROption::RSome(FUNDING_INTERVAL_HOURS);
                record.interval_source = ROption::RSome(IntervalSource::DEFAULT);
            }
        }
        if record.next_funding_ts.is_none() {
            record.next_funding_ts = ROption::RSome(next_full_hour(record.received_ts));
        }
        record
    }
}

/// The first full hour after `ms` (the settlement of the hour running at `ms`).
pub fn next_full_hour(ms: i64) -> i64 {
    (ms.div_euclid(HOUR_MS) + 1) * HOUR_MS
}

fn parse_funding(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut skipped = Skipped::default();
    let mut slots: InstrumentTable<'_, Slot> = InstrumentTable::new(ctx);
    for response in responses {
        let received_ts = response.received_ts;
        let result = match response.tag() {
            TAG_META_AND_ASSET_CTXS => {
                decode::<MetaAndAssetCtxs<'_>>(response, ctx).and_then(|answer| {
                    let pairs = joined(&answer, response.tag())?;
                    for (instrument, asset) in collected(pairs, ctx, &mut skipped) {
                        if let Some(slot) =
                            Slot::of(&mut slots, &instrument.raw_symbol, received_ts)
                        {
                            slot.record.rate = asset.funding.into();
                            if let Some(premium) = asset.premium {
                                slot.record.push_extra(EXTRA_PREMIUM, text(premium));
                            }
                        }
                    }
                    Ok(())
                })
            }
            TAG_PREDICTED_FUNDINGS => decode::<PredictedFundings<'_>>(response, ctx).map(|coins| {
                for (coin, venues) in &coins {
                    if is_other_dex(coin) {
                        skipped.other_dex.add(coin);
                        continue;
                    }
                    match ctx.instrument(coin) {
                        Some(instrument) if instrument_is_delisted(instrument) => {
                            skipped.delisted.add(coin);
                        }
                        Some(_) => {
                            if let Some(slot) = Slot::of(&mut slots, coin, received_ts) {
                                apply_predicted(slot, venues);
                            }
                        }
                        None => skipped.unknown.add(coin),
                    }
                }
            }),
            other => {
                out.warn(format!(
                    "ignored a response with an unexpected tag `{other}`"
                ));
                Ok(())
            }
        };
        if let Err(e) = result {
            out.errors.push(e);
        }
    }
    out.records.extend(slots.into_values().map(Slot::finish));
    skipped.report(&mut out);
    out
}

/// Every venue's predicted rate into `extra`; `HlPerp`'s settlement time and interval into the
/// record.
fn apply_predicted(slot: &mut Slot, venues: &[(std::borrow::Cow<'_, str>, Option<VenueFunding>)]) {
    for (venue, funding) in venues {
        let Some(funding) = funding else { continue };
        if let Some(rate) = funding.funding_rate {
            let key = format!("{EXTRA_PREDICTED_PREFIX}{}", venue.to_ascii_lowercase());
            slot.record.push_extra(&key, text(rate));
        }
        if venue.as_ref() == HL_VENUE {
            slot.record.next_funding_ts = funding.next_funding_time.into();
            slot.reported_interval = funding.funding_interval_hours;
        }
    }
}
