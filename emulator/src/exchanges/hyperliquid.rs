//! Hyperliquid's info API: `POST /info` with a JSON body `{"type": ...}` answering `meta`,
//! `metaAndAssetCtxs` (`[meta, assetCtxs]`, joined by position), `predictedFundings` and
//! `allMids`; prices and sizes are strings, times and intervals in `predictedFundings` and
//! `szDecimals` JSON numbers. Also the universe of a Hyperliquid instance ([`compose`]).
//!
//! The universe: the real coins first (BTC is asset 0, so the order is neither alphabetical nor
//! the other venues'), then synthetic `C0001`...; `k`-prefixed coins (`kPEPE`, `kSHIB`, `kBONK`,
//! `kFLOKI`: one unit is 1000 coins); every perp funds hourly; a few delisted coins
//! (`isDelisted: true`, stale contexts with zero volume and open interest, no mid, no impact
//! prices, absent from `predictedFundings`); a few thin books (`midPx`/`impactPxs` `null`); and
//! the last two coins listed 30 and 60 minutes after the instance starts, appended to the
//! universe then (the asset index of every other coin never changes). HIP-3 builder dexes are
//! not emulated: a `dex` other than `""` answers an empty universe.
//!
//! Errors (exchange-notes §9.4; exact bodies UNCONFIRMED): a body that is not JSON → 400, JSON
//! without a known `type` → 422, both plain text; a method other than POST → 405; rate limits
//! → HTTP 429. The `{"status":"err","response":"..."}` envelope is what fault injection sends.
//!
//! Owns: the wire format of these answers and the composition of the universe.
//! Must not: invent values (they come from `market`) or apply faults.

use serde::Deserialize;

use super::{ApiResponse, Venue};
use crate::{
    config::InstanceConfig,
    json,
    market::{coins, make, thousand_multiplied, unit, Contract, Instrument, Spec, Status},
};

/// The quote and settle currency of every perp.
const USDC: &str = "USDC";
/// Hyperliquid funds every hour.
const FUNDING_HOURS: u32 = 1;
/// Binance's and Bybit's usual interval, shown for their venues in `predictedFundings`.
const OTHER_VENUE_HOURS: u64 = 8;
const HOUR_MS: u64 = 3_600_000;
/// Coins listed after the instance starts, appended at the end of the universe.
const LATE_LISTINGS: usize = 2;
const LATE_LISTING_STEP_MS: u64 = 1_800_000;
/// Share of synthetic coins delisted, isolated-only, and with an empty book.
const DELISTED_SHARE: f64 = 0.03;
const ISOLATED_SHARE: f64 = 0.3;
const THIN_BOOK_SHARE: f64 = 0.04;
/// Decimals of funding rates and impact/mid prices as served.
const RATE_DECIMALS: u32 = 10;
/// Perp prices allow at most `6 - szDecimals` decimals.
const MAX_PRICE_DECIMALS: u32 = 6;
/// Real coins ranked below this are also listed on Bybit (in `predictedFundings`).
const BYBIT_LISTED_RANKS: usize = 40;
/// Hourly funding shown as the market's 8-hour figure divided by eight.
const HOURS_PER_8H: f64 = 8.0;

/// The instruments of a Hyperliquid instance (see the module docs).
pub fn compose(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let mut out = Vec::with_capacity(n);
    for (index, coin) in coins(n).into_iter().enumerate() {
        let (name, mult) = if thousand_multiplied(&coin.name) {
            (format!("k{}", coin.name), 1000.0)
        } else {
            (coin.name.clone(), 1.0)
        };
        let mut inst = make(Spec {
            cfg,
            symbol: name.clone(),
            base: name,
            quote: USDC,
            contract: Contract::Perpetual,
            mult,
            code: index as u64,
            coin,
        });
        inst.funding_hours = FUNDING_HOURS;
        if !inst.real && unit(inst.h ^ 0xde11) < DELISTED_SHARE {
            inst.status = Status::Settling;
        }
        out.push(inst);
    }
    let late = LATE_LISTINGS.min(out.len().saturating_sub(1));
    let first_late = out.len() - late;
    for (k, inst) in out.iter_mut().skip(first_late).enumerate() {
        inst.status = Status::PreLaunch;
        inst.listed_ms = now_ms + (k as u64 + 1) * LATE_LISTING_STEP_MS;
    }
    out
}

/// Listed in the universe at `now_ms` (late listings appear at their listing time).
pub fn is_listed(inst: &Instrument, now_ms: u64) -> bool {
    inst.status != Status::PreLaunch || inst.listed_ms <= now_ms
}

/// `isDelisted: true`.
pub fn is_delisted(inst: &Instrument) -> bool {
    inst.status == Status::Settling
}

/// The listed universe at `now_ms`, in asset-index order.
pub fn universe(venue: &Venue, now_ms: u64) -> impl Iterator<Item = &Instrument> {
    venue
        .universe
        .instruments
        .iter()
        .filter(move |i| is_listed(i, now_ms))
}

/// `szDecimals`: as many size decimals as the price leaves of Hyperliquid's 6.
pub fn sz_decimals(inst: &Instrument) -> u32 {
    MAX_PRICE_DECIMALS.saturating_sub(inst.price_dp.min(MAX_PRICE_DECIMALS))
}

fn max_leverage(inst: &Instrument) -> i64 {
    match inst.rank {
        0 | 1 => 40,
        r if r < 13 => 20,
        r if r != usize::MAX => 10,
        _ if unit(inst.h ^ 0x1e) < 0.5 => 5,
        _ => 3,
    }
}

fn only_isolated(inst: &Instrument) -> bool {
    !inst.real && unit(inst.h ^ 0x150) < ISOLATED_SHARE
}

fn thin_book(inst: &Instrument) -> bool {
    !inst.real && unit(inst.h ^ 0x3b) < THIN_BOOK_SHARE
}

/// One asset context as served (every value the exact string sent; `None` is JSON `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct AssetCtxText {
    pub funding: String,
    pub open_interest: String,
    pub prev_day_px: String,
    pub day_ntl_vlm: String,
    pub premium: Option<String>,
    pub oracle_px: String,
    pub mark_px: String,
    pub mid_px: Option<String>,
    pub impact_pxs: Option<(String, String)>,
    pub day_base_vlm: String,
}

/// What `metaAndAssetCtxs` shows for `inst` at `now_ms`.
pub fn asset_ctx(inst: &Instrument, now_ms: u64) -> AssetCtxText {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let qd = sz_decimals(inst);
    let price = |v: f64| json::fixed(v, pd, true);
    let zero = || "0.0".to_string();
    if is_delisted(inst) {
        return AssetCtxText {
            funding: zero(),
            open_interest: zero(),
            prev_day_px: price(s.open_24h),
            day_ntl_vlm: zero(),
            premium: None,
            oracle_px: price(s.index),
            mark_px: price(s.mark),
            mid_px: None,
            impact_pxs: None,
            day_base_vlm: zero(),
        };
    }
    let (mid, impact) = if thin_book(inst) {
        (None, None)
    } else {
        (
            Some(json::fixed((s.bid + s.ask) / 2.0, pd + 1, true)),
            Some((price(s.bid), price(s.ask))),
        )
    };
    AssetCtxText {
        funding: json::fixed(s.funding_rate / HOURS_PER_8H, RATE_DECIMALS, true),
        open_interest: json::fixed(s.oi_base, qd, false),
        prev_day_px: price(s.open_24h),
        day_ntl_vlm: json::fixed(s.vol_quote, 6, true),
        premium: Some(json::fixed(s.mark / s.index - 1.0, 8, true)),
        oracle_px: price(s.index),
        mark_px: price(s.mark),
        mid_px: mid,
        impact_pxs: impact,
        day_base_vlm: json::fixed(s.vol_base, qd, false),
    }
}

/// `{"type": ..., "dex": ...}`: the only fields read.
#[derive(Deserialize)]
struct InfoQuery {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    dex: String,
}

/// Answers `path`, or `None` when Hyperliquid has no such endpoint.
pub fn respond(
    venue: &Venue,
    method: &str,
    path: &str,
    body: &[u8],
    now_ms: u64,
) -> Option<ApiResponse> {
    if path != "/info" {
        return None;
    }
    if method != "POST" {
        return Some(ApiResponse::text(405, "Method Not Allowed"));
    }
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Some(ApiResponse::text(
                400,
                format!("Failed to parse the request body as JSON: {e}"),
            ))
        }
    };
    let query: InfoQuery = match serde_json::from_value(value) {
        Ok(q) => q,
        Err(e) => {
            return Some(ApiResponse::text(
                422,
                format!("Failed to deserialize the JSON body into the target type: {e}"),
            ))
        }
    };
    let main_dex = query.dex.is_empty();
    Some(match query.kind.as_str() {
        "meta" => ApiResponse::json(200, meta_body(venue, now_ms, main_dex)),
        "metaAndAssetCtxs" => ApiResponse::json(200, meta_and_ctxs_body(venue, now_ms, main_dex)),
        "predictedFundings" => ApiResponse::json(200, predicted_body(venue, now_ms)),
        "allMids" => ApiResponse::json(200, all_mids_body(venue, now_ms, main_dex)),
        other => ApiResponse::text(
            422,
            format!(
                "Failed to deserialize the JSON body into the target type: type: unknown variant `{other}`"
            ),
        ),
    })
}

fn meta_body(venue: &Venue, now_ms: u64, main_dex: bool) -> String {
    let mut b = String::with_capacity(80 * venue.universe.instruments.len());
    write_meta(&mut b, venue, now_ms, main_dex);
    b
}

fn write_meta(b: &mut String, venue: &Venue, now_ms: u64, main_dex: bool) {
    json::object(b, |o| {
        o.arr("universe", |a| {
            if !main_dex {
                return;
            }
            for inst in universe(venue, now_ms) {
                a.obj(|o| {
                    o.int("szDecimals", i64::from(sz_decimals(inst)))
                        .str("name", &inst.symbol)
                        .int("maxLeverage", max_leverage(inst))
                        .int("marginTableId", max_leverage(inst));
                    if only_isolated(inst) || is_delisted(inst) {
                        o.bool("onlyIsolated", true);
                    }
                    if is_delisted(inst) {
                        o.bool("isDelisted", true);
                    }
                });
            }
        });
    });
}

fn meta_and_ctxs_body(venue: &Venue, now_ms: u64, main_dex: bool) -> String {
    let mut b = String::with_capacity(330 * venue.universe.instruments.len());
    b.push('[');
    write_meta(&mut b, venue, now_ms, main_dex);
    b.push(',');
    json::array(&mut b, |a| {
        if !main_dex {
            return;
        }
        for inst in universe(venue, now_ms) {
            let c = asset_ctx(inst, now_ms);
            a.obj(|o| {
                o.str("funding", &c.funding)
                    .str("openInterest", &c.open_interest)
                    .str("prevDayPx", &c.prev_day_px)
                    .str("dayNtlVlm", &c.day_ntl_vlm);
                match &c.premium {
                    Some(p) => o.str("premium", p),
                    None => o.null("premium"),
                };
                o.str("oraclePx", &c.oracle_px).str("markPx", &c.mark_px);
                match &c.mid_px {
                    Some(m) => o.str("midPx", m),
                    None => o.null("midPx"),
                };
                match &c.impact_pxs {
                    Some((bid, ask)) => o.arr("impactPxs", |a| {
                        a.str(bid).str(ask);
                    }),
                    None => o.null("impactPxs"),
                };
                o.str("dayBaseVlm", &c.day_base_vlm);
            });
        }
    });
    b.push(']');
    b
}

/// `HlPerp` first-class; Binance for the real coins, Bybit for the bigger ones (`null` else).
fn predicted_body(venue: &Venue, now_ms: u64) -> String {
    let mut b = String::with_capacity(260 * venue.universe.instruments.len());
    json::array(&mut b, |a| {
        for inst in universe(venue, now_ms).filter(|i| !is_delisted(i)) {
            let c = asset_ctx(inst, now_ms);
            let s = inst.snapshot(now_ms);
            let other_interval = OTHER_VENUE_HOURS * HOUR_MS;
            let other_next = (now_ms / other_interval + 1) * other_interval;
            let other_rate = json::fixed(s.funding_rate, 8, true);
            let mut venues = String::with_capacity(240);
            json::array(&mut venues, |v| {
                let mut entry = |name: &str, present: bool, rate: &str, next: u64, hours: u64| {
                    let mut e = String::with_capacity(100);
                    json::array(&mut e, |pair| {
                        pair.str(name);
                        if present {
                            pair.obj(|o| {
                                o.str("fundingRate", rate)
                                    .int("nextFundingTime", next as i64)
                                    .int("fundingIntervalHours", hours as i64);
                            });
                        } else {
                            pair.raw("null");
                        }
                    });
                    v.raw(&e);
                };
                let on_binance = inst.real;
                let on_bybit = inst.real && inst.rank < BYBIT_LISTED_RANKS;
                entry(
                    "BinPerp",
                    on_binance,
                    &other_rate,
                    other_next,
                    OTHER_VENUE_HOURS,
                );
                entry(
                    "HlPerp",
                    true,
                    &c.funding,
                    s.next_funding_ms,
                    u64::from(FUNDING_HOURS),
                );
                entry(
                    "BybitPerp",
                    on_bybit,
                    &other_rate,
                    other_next,
                    OTHER_VENUE_HOURS,
                );
            });
            let mut row = String::with_capacity(venues.len() + 32);
            json::array(&mut row, |r| {
                r.str(&inst.symbol).raw(&venues);
            });
            a.raw(&row);
        }
    });
    b
}

fn all_mids_body(venue: &Venue, now_ms: u64, main_dex: bool) -> String {
    let mut b = String::with_capacity(32 * venue.universe.instruments.len());
    json::object(&mut b, |o| {
        if !main_dex {
            return;
        }
        for inst in universe(venue, now_ms) {
            if let Some(mid) = asset_ctx(inst, now_ms).mid_px {
                o.str(&inst.symbol, &mid);
            }
        }
    });
    b
}

/// `{"status":"err","response":"<msg>"}`: the envelope of Hyperliquid's errors.
pub fn error_body(b: &mut String, msg: &str) {
    json::object(b, |o| {
        o.str("status", "err").str("response", msg);
    });
}

/// The message of an error code (Hyperliquid has no codes: only HTTP statuses).
pub fn default_error_msg(code: i64) -> &'static str {
    match code {
        429 => "Too many requests",
        _ => "Internal server error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExchangeKind;

    fn venue() -> Venue {
        Venue::new(InstanceConfig::new(
            "hyperliquid",
            ExchangeKind::Hyperliquid,
        ))
    }

    fn post(venue: &Venue, body: &str, now: u64) -> ApiResponse {
        respond(venue, "POST", "/info", body.as_bytes(), now).expect("an /info answer")
    }

    fn json_of(r: &ApiResponse) -> serde_json::Value {
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str(&r.body).expect("JSON")
    }

    #[test]
    fn universe_has_k_coins_delisted_thin_books_and_hourly_funding() {
        let v = venue();
        let insts = &v.universe.instruments;
        assert_eq!(insts.len(), 230);
        assert_eq!(insts[0].symbol, "BTC");
        for k in ["kPEPE", "kSHIB", "kBONK", "kFLOKI"] {
            assert!(v.universe.get(k).is_some(), "{k}");
        }
        assert!(insts.iter().any(is_delisted));
        assert!(insts.iter().any(thin_book));
        assert!(insts.iter().all(|i| i.funding_hours == 1));
        assert!(insts.iter().all(|i| i.quote == USDC));
    }

    #[test]
    fn meta_and_contexts_line_up_by_position() {
        let v = venue();
        let now = crate::exchanges::now_ms();
        let answer = json_of(&post(&v, r#"{"type":"metaAndAssetCtxs"}"#, now));
        let universe = answer[0]["universe"].as_array().unwrap();
        let ctxs = answer[1].as_array().unwrap();
        assert_eq!(universe.len(), ctxs.len());
        assert_eq!(universe.len(), 230 - LATE_LISTINGS);
        for (row, c) in universe.iter().zip(ctxs) {
            let inst = v.universe.get(row["name"].as_str().unwrap()).unwrap();
            let want = asset_ctx(inst, now);
            assert_eq!(c["markPx"], want.mark_px.as_str());
            assert_eq!(c["funding"], want.funding.as_str());
            assert!(row["szDecimals"].is_u64());
            assert_eq!(
                row["isDelisted"].as_bool().unwrap_or(false),
                is_delisted(inst)
            );
        }
        // Late listings are appended when their time comes.
        let later = now + LATE_LISTINGS as u64 * LATE_LISTING_STEP_MS + 1;
        let answer = json_of(&post(&v, r#"{"type":"meta"}"#, later));
        let names: Vec<&str> = answer["universe"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 230);
        assert_eq!(names[0], "BTC");
    }

    #[test]
    fn predicted_fundings_cover_live_coins_with_the_next_hour() {
        let v = venue();
        let now = crate::exchanges::now_ms();
        let answer = json_of(&post(&v, r#"{"type":"predictedFundings"}"#, now));
        let rows = answer.as_array().unwrap();
        let live = universe(&v, now).filter(|i| !is_delisted(i)).count();
        assert_eq!(rows.len(), live);
        for row in rows {
            let venues = row[1].as_array().unwrap();
            let hl = venues.iter().find(|e| e[0] == "HlPerp").unwrap();
            let next = hl[1]["nextFundingTime"].as_u64().unwrap();
            assert_eq!(next % HOUR_MS, 0);
            assert!(next > now && next <= now + HOUR_MS);
            assert_eq!(hl[1]["fundingIntervalHours"], 1);
        }
    }

    #[test]
    fn bad_requests_are_refused_like_hyperliquid() {
        let v = venue();
        let now = crate::exchanges::now_ms();
        assert_eq!(post(&v, "not json", now).status, 400);
        assert_eq!(post(&v, r#"{"type":"nope"}"#, now).status, 422);
        assert_eq!(post(&v, r#"{"coin":"BTC"}"#, now).status, 422);
        let get = respond(&v, "GET", "/info", b"", now).unwrap();
        assert_eq!(get.status, 405);
        assert!(respond(&v, "POST", "/exchange", b"{}", now).is_none());
        let other_dex = json_of(&post(&v, r#"{"type":"meta","dex":"xyz"}"#, now));
        assert_eq!(other_dex["universe"].as_array().unwrap().len(), 0);
        let mut b = String::new();
        error_body(&mut b, "x\"y");
        let e: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(e["status"], "err");
    }
}
