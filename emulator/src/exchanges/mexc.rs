//! MEXC's futures ("contract") public REST: `contract/detail`, `contract/ticker` and
//! `contract/funding_rate` in MEXC's `{"success":true,"code":0,"data":...}` envelope with every
//! value a **JSON number**; also the universe of a MEXC instance ([`compose`]).
//!
//! Sizes follow MEXC's contract conventions: `volume24` and `holdVol` are contracts of
//! `contractSize` base units (linear) or `contractSize` USD (inverse `BTC_USD`, settled in the
//! coin); `amount24` is the turnover in the settle currency. The funding interval is
//! `collectCycle` (hours: 1, 4 or 8 per contract), caps are `maxFundingRate`/`minFundingRate`.
//!
//! The universe: USDT perps of the real coins then synthetic `C0001`..., some USDC perps, a few
//! inverse USD perps; a few contracts hidden (`isHidden`, listed by `detail` only), offline
//! (`state` 3, not in ticker/funding), paused (`state` 4, still quoted) or with
//! `apiAllowed: false`. MEXC lists no dated contracts.
//!
//! Errors (exchange-notes §5.4): HTTP 200 `{"success":false,"code":N,"message":"..."}`: 1001
//! for an unknown contract (UNCONFIRMED code), 510 for "too frequent".
//!
//! Owns: the wire format of these endpoints and the composition of the universe.
//! Must not: invent values (they come from `market`) or apply faults.

use super::{ApiResponse, Query, Venue};
use crate::{
    config::InstanceConfig,
    json,
    market::{coins, make, round_to, unit, Contract, Instrument, Spec},
};

/// The prefix of every path.
const PREFIX: &str = "/api/v1/contract";
/// "Contract does not exist" (UNCONFIRMED code).
pub const CONTRACT_NOT_FOUND: i64 = 1001;
/// "Requests are too frequent".
pub const TOO_FREQUENT: i64 = 510;

const HIDDEN_SHARE: f64 = 0.02;
const OFFLINE_SHARE: f64 = 0.02;
const PAUSED_SHARE: f64 = 0.015;
const API_DISALLOWED_SHARE: f64 = 0.03;
/// USD per contract of the inverse perps (BTC 100, others 10).
const INVERSE_BTC_USD: f64 = 100.0;
const INVERSE_OTHER_USD: f64 = 10.0;
/// Decimals of `contractSize` as served.
const CONTRACT_SIZE_DECIMALS: u32 = 8;
/// Decimals of rates and of the quote turnover as served.
const RATE_DECIMALS: u32 = 8;
const AMOUNT_DECIMALS: u32 = 4;

/// The instruments of a MEXC instance (see the module docs).
pub fn compose(cfg: &InstanceConfig, _now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let inverse = if n >= 10 { (n / 50).clamp(1, 6) } else { 0 };
    let usdc = if n >= 20 { (n / 25).min(16) } else { 0 };
    let linear = n - inverse - usdc;
    let mut out = Vec::with_capacity(n);
    for (quote, list, contract) in [
        ("USDT", coins(linear), Contract::Perpetual),
        ("USDC", coins(usdc), Contract::Perpetual),
        ("USD", coins(inverse), Contract::InversePerpetual),
    ] {
        for coin in list {
            let code = out.len() as u64;
            let rank = coin.rank;
            let mut inst = make(Spec {
                cfg,
                symbol: format!("{}_{quote}", coin.name),
                base: coin.name.clone(),
                quote,
                contract,
                mult: 1.0,
                code,
                coin,
            });
            inst.ct_val = contract_size(&inst, rank);
            out.push(inst);
        }
    }
    out
}

/// `contractSize`: as MEXC lists BTC (0.0001) and ETH (0.001); otherwise a power of ten worth
/// about 1–100 USDT; inverse: USD per contract.
fn contract_size(inst: &Instrument, rank: usize) -> f64 {
    match (inst.contract, rank) {
        (Contract::InversePerpetual, 0) => INVERSE_BTC_USD,
        (Contract::InversePerpetual, _) => INVERSE_OTHER_USD,
        (_, 0) => 0.0001,
        (_, 1) => 0.001,
        _ => {
            let price = inst.level;
            let target = [1.0, 10.0, 100.0][(inst.h % 3) as usize];
            // Rounded so that the value is exactly the decimal served.
            round_to(
                10f64.powf((target / price).log10().round().clamp(-4.0, 6.0)),
                CONTRACT_SIZE_DECIMALS,
            )
        }
    }
}

fn inverse(inst: &Instrument) -> bool {
    inst.contract == Contract::InversePerpetual
}

/// `isHidden`: listed by `detail` only.
pub fn is_hidden(inst: &Instrument) -> bool {
    !inst.real && unit(inst.h ^ 0x41d) < HIDDEN_SHARE
}

/// `state`: 0 enabled, 3 offline, 4 paused.
pub fn state(inst: &Instrument) -> i64 {
    let u = unit(inst.h ^ 0x57a7);
    if inst.real {
        0
    } else if u < OFFLINE_SHARE {
        3
    } else if u < OFFLINE_SHARE + PAUSED_SHARE {
        4
    } else {
        0
    }
}

fn api_allowed(inst: &Instrument) -> bool {
    inst.real || unit(inst.h ^ 0xa91) >= API_DISALLOWED_SHARE
}

/// Quoted by `ticker` and `funding_rate`: visible and not offline.
pub fn is_quoted(inst: &Instrument) -> bool {
    !is_hidden(inst) && state(inst) != 3
}

/// The settle currency.
fn settle(inst: &Instrument) -> &str {
    if inverse(inst) {
        &inst.coin
    } else {
        inst.quote
    }
}

/// One ticker as served (the values as the JSON numbers sent).
#[derive(Debug, Clone, PartialEq)]
pub struct TickerValues {
    pub last_price: f64,
    pub bid1: f64,
    pub ask1: f64,
    pub volume24: f64,
    pub amount24: f64,
    pub hold_vol: f64,
    pub index_price: f64,
    pub fair_price: f64,
    pub funding_rate: f64,
    pub timestamp: u64,
}

/// What `ticker` shows for `inst` at `now_ms`.
pub fn ticker_values(inst: &Instrument, now_ms: u64) -> TickerValues {
    let s = inst.snapshot(now_ms);
    let cs = inst.ct_val;
    let (volume24, amount24, hold_vol) = if inverse(inst) {
        (
            (s.vol_quote / cs).round().max(1.0),
            round_to(s.vol_quote / s.last, AMOUNT_DECIMALS),
            (s.oi_base * s.mark / cs).round().max(1.0),
        )
    } else {
        (
            (s.vol_base / cs).round().max(1.0),
            round_to(s.vol_quote, AMOUNT_DECIMALS),
            (s.oi_base / cs).round().max(1.0),
        )
    };
    TickerValues {
        last_price: s.last,
        bid1: s.bid,
        ask1: s.ask,
        volume24,
        amount24,
        hold_vol,
        index_price: round_to(s.index, inst.price_dp),
        fair_price: s.mark,
        funding_rate: round_to(s.funding_rate, RATE_DECIMALS),
        timestamp: s.ts_ms,
    }
}

/// One funding row as served.
#[derive(Debug, Clone, PartialEq)]
pub struct FundingValues {
    pub funding_rate: f64,
    pub max_funding_rate: f64,
    pub min_funding_rate: f64,
    pub collect_cycle: u32,
    pub next_settle_time: u64,
    pub timestamp: u64,
}

/// What `funding_rate` shows for `inst` at `now_ms`.
pub fn funding_values(inst: &Instrument, now_ms: u64) -> FundingValues {
    let s = inst.snapshot(now_ms);
    FundingValues {
        funding_rate: round_to(s.funding_rate, RATE_DECIMALS),
        max_funding_rate: inst.funding_cap,
        min_funding_rate: inst.funding_floor,
        collect_cycle: inst.funding_hours,
        next_settle_time: s.next_funding_ms,
        timestamp: now_ms,
    }
}

/// Answers `path`, or `None` when MEXC has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    let rest = path.strip_prefix(PREFIX)?;
    Some(match rest {
        "/detail" => listing(
            venue,
            query.non_empty("symbol"),
            now_ms,
            700,
            |_| true,
            detail_row,
        ),
        "/ticker" => listing(
            venue,
            query.non_empty("symbol"),
            now_ms,
            330,
            is_quoted,
            ticker_row,
        ),
        "/funding_rate" => listing(venue, None, now_ms, 170, is_quoted, funding_row),
        "/ping" => {
            let mut b = String::with_capacity(64);
            json::object(&mut b, |o| {
                o.bool("success", true)
                    .int("code", 0)
                    .int("data", now_ms as i64);
            });
            ApiResponse::json(200, b)
        }
        other => {
            let symbol = other.strip_prefix("/funding_rate/")?;
            listing(venue, Some(symbol), now_ms, 170, is_quoted, funding_row)
        }
    })
}

/// A MEXC error answer (HTTP 200, `success: false`).
pub fn error(code: i64) -> ApiResponse {
    let mut b = String::with_capacity(96);
    error_body(&mut b, code, default_error_msg(code));
    ApiResponse::json(200, b)
}

/// `{"success":false,"code":N,"message":"..."}`.
pub fn error_body(b: &mut String, code: i64, msg: &str) {
    json::object(b, |o| {
        o.bool("success", false)
            .int("code", code)
            .str("message", msg);
    });
}

/// MEXC's message for a code (`ccxt:mexc.py:925-945`).
pub fn default_error_msg(code: i64) -> &'static str {
    match code {
        TOO_FREQUENT => "Requests are too frequent!",
        429 => "Too many requests",
        501 | 503 => "System is busy, please try again later",
        604 => "System maintenance",
        CONTRACT_NOT_FOUND => "Contract does not exist",
        _ => "System error",
    }
}

type RowFn = fn(&mut json::Obj<'_>, &Instrument, u64);

/// Every instrument passing `keep` as a list, or one (`symbol=`) as an object.
fn listing(
    venue: &Venue,
    symbol: Option<&str>,
    now_ms: u64,
    row_size: usize,
    keep: fn(&Instrument) -> bool,
    row: RowFn,
) -> ApiResponse {
    let mut b = String::with_capacity(64 + row_size * venue.universe.instruments.len());
    match symbol {
        Some(symbol) => {
            let Some(inst) = venue.universe.get(symbol).filter(|i| keep(i)) else {
                return error(CONTRACT_NOT_FOUND);
            };
            json::object(&mut b, |o| {
                o.bool("success", true)
                    .int("code", 0)
                    .obj("data", |d| row(d, inst, now_ms));
            });
        }
        None => json::object(&mut b, |o| {
            o.bool("success", true).int("code", 0).arr("data", |a| {
                for inst in venue.universe.instruments.iter().filter(|i| keep(i)) {
                    a.obj(|d| row(d, inst, now_ms));
                }
            });
        }),
    }
    ApiResponse::json(200, b)
}

/// A JSON number with at most `dp` decimals (trailing zeros trimmed).
fn number(o: &mut json::Obj<'_>, key: &str, v: f64, dp: u32) {
    o.raw(key, &json::fixed(v, dp, true));
}

fn detail_row(o: &mut json::Obj<'_>, inst: &Instrument, _now_ms: u64) {
    let max_leverage = if inst.real { 125 } else { 50 };
    o.str("symbol", &inst.symbol)
        .str("displayName", &inst.symbol)
        .str("displayNameEn", &format!("{} PERPETUAL", inst.symbol))
        .int("positionOpenType", 3)
        .str("baseCoin", &inst.coin)
        .str("quoteCoin", inst.quote)
        .str("settleCoin", settle(inst));
    number(o, "contractSize", inst.ct_val, CONTRACT_SIZE_DECIMALS);
    o.int("minLeverage", 1)
        .int("maxLeverage", max_leverage)
        .int("priceScale", i64::from(inst.price_dp))
        .int("volScale", 0)
        .int("amountScale", 4);
    number(o, "priceUnit", inst.tick(), inst.price_dp);
    o.int("volUnit", 1)
        .int("minVol", 1)
        .int("maxVol", 1_000_000)
        .raw("takerFeeRate", "0.0002")
        .raw("makerFeeRate", "0")
        .raw("indexOrigin", "[\"BINANCE\",\"GATEIO\",\"HUOBI\",\"MEXC\"]")
        .int("state", state(inst))
        .bool("isNew", false)
        .bool("isHot", inst.rank < 5)
        .bool("isHidden", is_hidden(inst))
        .bool("apiAllowed", api_allowed(inst))
        .int("openingTime", inst.listed_ms as i64);
}

fn ticker_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let t = ticker_values(inst, now_ms);
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    o.raw("contractId", &inst.code.to_string())
        .str("symbol", &inst.symbol);
    number(o, "lastPrice", t.last_price, pd);
    number(o, "bid1", t.bid1, pd);
    number(o, "ask1", t.ask1, pd);
    number(o, "volume24", t.volume24, 0);
    number(o, "amount24", t.amount24, AMOUNT_DECIMALS);
    number(o, "holdVol", t.hold_vol, 0);
    number(o, "lower24Price", s.low_24h, pd);
    number(o, "high24Price", s.high_24h, pd);
    number(o, "riseFallRate", round_to(s.last / s.open_24h - 1.0, 4), 4);
    number(o, "riseFallValue", s.last - s.open_24h, pd);
    number(o, "indexPrice", t.index_price, pd);
    number(o, "fairPrice", t.fair_price, pd);
    number(o, "fundingRate", t.funding_rate, RATE_DECIMALS);
    number(o, "maxBidPrice", s.index * 1.03, pd);
    number(o, "minAskPrice", s.index * 0.97, pd);
    o.int("timestamp", t.timestamp as i64);
}

fn funding_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let f = funding_values(inst, now_ms);
    o.str("symbol", &inst.symbol);
    number(o, "fundingRate", f.funding_rate, RATE_DECIMALS);
    number(o, "maxFundingRate", f.max_funding_rate, RATE_DECIMALS);
    number(o, "minFundingRate", f.min_funding_rate, RATE_DECIMALS);
    o.int("collectCycle", i64::from(f.collect_cycle))
        .int("nextSettleTime", f.next_settle_time as i64)
        .int("timestamp", f.timestamp as i64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExchangeKind;

    fn venue() -> Venue {
        Venue::new(InstanceConfig::new("mexc", ExchangeKind::Mexc))
    }

    fn get(venue: &Venue, path: &str, query: &str, now: u64) -> serde_json::Value {
        let q = Query::parse(Some(query));
        let r = respond(venue, path, &q, now).expect("a MEXC path");
        assert_eq!(r.status, 200);
        serde_json::from_str(&r.body).expect("JSON")
    }

    #[test]
    fn universe_mixes_usdt_usdc_inverse_and_odd_states() {
        let v = venue();
        let insts = &v.universe.instruments;
        assert_eq!(insts.len(), 400);
        assert_eq!(insts[0].symbol, "BTC_USDT");
        assert!(v.universe.get("BTC_USD").is_some_and(inverse));
        assert!(v.universe.get("BTC_USDC").is_some());
        assert!(insts.iter().any(is_hidden));
        assert!(insts.iter().any(|i| state(i) == 3));
        assert!(insts.iter().any(|i| state(i) == 4));
        let hours: std::collections::BTreeSet<u32> =
            insts.iter().map(|i| i.funding_hours).collect();
        assert_eq!(hours.into_iter().collect::<Vec<_>>(), [1, 4, 8]);
    }

    #[test]
    fn bulk_endpoints_serve_numbers_and_contracts() {
        let v = venue();
        let now = crate::exchanges::now_ms();
        let detail = get(&v, "/api/v1/contract/detail", "", now);
        assert_eq!(detail["code"], 0);
        assert_eq!(detail["data"].as_array().unwrap().len(), 400);
        assert_eq!(detail["data"][0]["contractSize"], 0.0001);
        let tickers = get(&v, "/api/v1/contract/ticker", "", now);
        let rows = tickers["data"].as_array().unwrap();
        assert_eq!(
            rows.len(),
            v.universe
                .instruments
                .iter()
                .filter(|i| is_quoted(i))
                .count()
        );
        let btc = &rows[0];
        assert!(btc["lastPrice"].is_number() && btc["holdVol"].is_number());
        let inst = v.universe.get("BTC_USDT").unwrap();
        let want = ticker_values(inst, now);
        assert_eq!(btc["volume24"].as_f64(), Some(want.volume24));
        assert_eq!(btc["fairPrice"].as_f64(), Some(want.fair_price));
        let funding = get(&v, "/api/v1/contract/funding_rate", "", now);
        let f = &funding["data"][0];
        assert_eq!(f["collectCycle"], 8);
        assert!(f["nextSettleTime"].as_u64().unwrap() > now);
        let one = get(&v, "/api/v1/contract/ticker", "symbol=ETH_USDT", now);
        assert!(one["data"].is_object());
        let one = get(&v, "/api/v1/contract/funding_rate/ETH_USDT", "", now);
        assert_eq!(one["data"]["symbol"], "ETH_USDT");
        let missing = get(&v, "/api/v1/contract/funding_rate/NOPE_USDT", "", now);
        assert_eq!(missing["success"], false);
        assert_eq!(missing["code"], CONTRACT_NOT_FOUND);
        assert!(respond(&v, "/api/v1/contract/nope", &Query::default(), now).is_none());
    }
}
