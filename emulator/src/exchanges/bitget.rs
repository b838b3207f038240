//! Bitget v2 mix public market REST for the linear product types `USDT-FUTURES` and
//! `USDC-FUTURES`: `/api/v2/mix/market/contracts`, `/tickers` and the bulk
//! `/current-fund-rate` (no `symbol`: every contract, with interval, next settlement and
//! cap/floor), in Bitget's `{"code":"00000","msg":"success","requestTime":…,"data":…}` envelope
//! with every number and timestamp as a string except `requestTime`.
//!
//! Also the universe of a Bitget instance ([`compose`]): USDT perpetuals (`BTCUSDT`; `1000BONK`
//! style multiplier prefixes; `TONCOIN`, which ccxt renames to TON), USDC perpetuals (`BTCPERP`),
//! dated delivery contracts mixed into the USDT list (`BTCUSDT_261225`, exchange-notes errata 3),
//! 1 h / 4 h / 8 h funding, a few listed-not-trading (`listed`), limit-only (`limit_open`, still
//! quoted) and delisted (`off`) ones.
//!
//! Owns: the wire format of these endpoints, Bitget's error body and codes, the composition.
//! Must not: invent values (they come from `market`) or apply faults.

use super::{error_envelope, ApiResponse, Query, Venue};
use crate::{
    config::{ExchangeKind, InstanceConfig},
    json,
    market::{
        apply_statuses, civil_from_days, coins, dated_count, make, quarterly_expiries, real_coin,
        thousand_multiplied, Contract, Instrument, Spec, Status, DAY_MS,
    },
};

/// Bitget's "too many requests" code (HTTP 429).
pub const RATE_LIMITED: i64 = 429;
/// "Parameter verification failed".
pub const PARAMETER_INVALID: i64 = 40017;
/// "Parameter cannot be empty".
pub const PARAMETER_EMPTY: i64 = 40019;
/// "Parameter does not exist" (an unknown symbol).
pub const SYMBOL_UNKNOWN: i64 = 40034;
/// "System is abnormal, please try again later" (transient).
pub const SYSTEM_ABNORMAL: i64 = 40015;

const USDT: &str = "USDT-FUTURES";
const USDC: &str = "USDC-FUTURES";
/// Product types Bitget has but this emulator lists nothing for (inverse and demo).
const EMPTY_PRODUCTS: [&str; 4] = [
    "COIN-FUTURES",
    "SUSDT-FUTURES",
    "SUSDC-FUTURES",
    "SCOIN-FUTURES",
];
/// The suffix of Bitget's USDC perpetuals (`BTCPERP`).
const USDC_SUFFIX: &str = "PERP";
/// The coin Bitget lists under its own code (`TONCOINUSDT`; ccxt renames it TON).
const RENAMED: (&str, &str) = ("TON", "TONCOIN");

/// The universe of a Bitget instance: USDT perpetuals, USDC perpetuals, and dated USDT
/// contracts mixed into the USDT list.
pub fn compose(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let dated = dated_count(n);
    let usdc = if n >= 25 { (n / 25).min(15) } else { 0 };
    let perps = n - dated - usdc;
    let mut out = Vec::with_capacity(n);
    for coin in coins(perps) {
        let (base, mult) = if thousand_multiplied(&coin.name) && coin.name != "PEPE" {
            (format!("1000{}", coin.name), 1000.0)
        } else if coin.name == RENAMED.0 {
            (RENAMED.1.to_string(), 1.0)
        } else {
            (coin.name.clone(), 1.0)
        };
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{base}USDT"),
            base,
            quote: "USDT",
            contract: Contract::Perpetual,
            mult,
            code,
            coin,
        }));
    }
    for coin in coins(usdc) {
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{}{USDC_SUFFIX}", coin.name),
            base: coin.name.clone(),
            quote: "USDC",
            contract: Contract::Perpetual,
            mult: 1.0,
            code,
            coin,
        }));
    }
    let (cur, next) = quarterly_expiries(now_ms);
    for i in 0..dated {
        let Some(coin) = real_coin(i / 2) else { break };
        let expiry_ms = if i % 2 == 0 { cur } else { next };
        let (y, m, d) = civil_from_days((expiry_ms / DAY_MS) as i64);
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{}USDT_{:02}{:02}{:02}", coin.name, y % 100, m, d),
            base: coin.name.clone(),
            quote: "USDT",
            contract: Contract::Quarterly {
                expiry_ms,
                next: i % 2 == 1,
            },
            mult: 1.0,
            code,
            coin,
        }));
    }
    apply_statuses(&mut out, now_ms, 120, 60, Some(110));
    out
}

/// Answers `path`, or `None` when Bitget has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    let kind = match path {
        "/api/v2/mix/market/contracts" => Endpoint::Contracts,
        "/api/v2/mix/market/tickers" => Endpoint::Tickers,
        "/api/v2/mix/market/current-fund-rate" => Endpoint::FundRate,
        "/api/v2/public/time" => {
            return Some(ok(now_ms, 64, |b| {
                json::object(b, |o| {
                    o.str("serverTime", &now_ms.to_string());
                })
            }))
        }
        _ => return None,
    };
    Some(answer(venue, kind, query, now_ms))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Contracts,
    Tickers,
    FundRate,
}

fn answer(venue: &Venue, endpoint: Endpoint, query: &Query, now_ms: u64) -> ApiResponse {
    let Some(product) = query.non_empty("productType") else {
        return error(
            PARAMETER_EMPTY,
            "Parameter productType cannot be empty",
            now_ms,
        );
    };
    let product = product.to_ascii_uppercase();
    let quote = match product.as_str() {
        USDT => Some("USDT"),
        USDC => Some("USDC"),
        p if EMPTY_PRODUCTS.contains(&p) => None,
        _ => return error(PARAMETER_INVALID, "Parameter verification failed", now_ms),
    };
    let symbol = query.non_empty("symbol");
    if let Some(s) = symbol {
        if venue.universe.get(s).is_none() {
            return error(SYMBOL_UNKNOWN, "Parameter does not exist", now_ms);
        }
    }
    let listed = venue
        .universe
        .instruments
        .iter()
        .filter(|i| Some(i.quote) == quote)
        .filter(|i| symbol.is_none_or(|s| s == i.symbol))
        .filter(|i| match endpoint {
            Endpoint::Contracts => true,
            Endpoint::Tickers => i.is_trading(),
            Endpoint::FundRate => i.is_trading() && i.is_perpetual(),
        });
    let rows: Vec<&Instrument> = listed.collect();
    ok(now_ms, 256 + 900 * rows.len(), |b| {
        json::array(b, |a| {
            for inst in &rows {
                a.obj(|o| match endpoint {
                    Endpoint::Contracts => contract_row(o, inst),
                    Endpoint::Tickers => ticker_row(o, inst, now_ms),
                    Endpoint::FundRate => fund_rate_row(o, inst, now_ms),
                });
            }
        })
    })
}

/// A Bitget error answer: HTTP 400 (429 for the rate limit) with a non-success `code`.
pub fn error(code: i64, msg: &str, now_ms: u64) -> ApiResponse {
    let msg = if msg.is_empty() {
        default_error_msg(code)
    } else {
        msg
    };
    ApiResponse::json(
        status_of(code),
        error_envelope(ExchangeKind::Bitget, code, msg, now_ms),
    )
}

/// The HTTP status Bitget sends with `code`.
pub fn status_of(code: i64) -> u16 {
    match code {
        RATE_LIMITED => 429,
        SYSTEM_ABNORMAL => 500,
        _ => 400,
    }
}

/// Bitget's error body: `{"code":"40017","msg":"…","requestTime":…,"data":null}`.
pub fn error_body(b: &mut String, code: i64, msg: &str, now_ms: u64) {
    json::object(b, |o| {
        o.str("code", &code.to_string())
            .str("msg", msg)
            .int("requestTime", now_ms as i64)
            .null("data");
    });
}

/// The message Bitget sends with `code`.
pub fn default_error_msg(code: i64) -> &'static str {
    match code {
        RATE_LIMITED => "Too Many Requests",
        SYSTEM_ABNORMAL => "System is abnormal, please try again later",
        PARAMETER_INVALID => "Parameter verification failed",
        PARAMETER_EMPTY => "Parameter cannot be empty",
        SYMBOL_UNKNOWN => "Parameter does not exist",
        _ => "System error",
    }
}

fn ok(now_ms: u64, capacity: usize, data: impl FnOnce(&mut String)) -> ApiResponse {
    let mut payload = String::with_capacity(capacity);
    data(&mut payload);
    let mut b = String::with_capacity(capacity + 96);
    json::object(&mut b, |o| {
        o.str("code", "00000")
            .str("msg", "success")
            .int("requestTime", now_ms as i64)
            .raw("data", &payload);
    });
    ApiResponse::json(200, b)
}

/// One trading contract in this many is `limit_open` (still trading, no new positions).
const LIMIT_OPEN_EVERY: u64 = 53;

fn status_word(inst: &Instrument) -> &'static str {
    match inst.status {
        Status::Trading if !inst.real && inst.h.is_multiple_of(LIMIT_OPEN_EVERY) => "limit_open",
        Status::Trading => "normal",
        Status::PreLaunch => "listed",
        Status::Settling => "off",
    }
}

fn contract_row(o: &mut json::Obj<'_>, inst: &Instrument) {
    let (pd, qd) = (inst.price_dp, inst.qty_dp);
    let (symbol_type, delivery, fund_interval) = match inst.contract {
        Contract::Quarterly { expiry_ms, .. } => ("delivery", expiry_ms.to_string(), String::new()),
        _ => ("perpetual", String::new(), inst.funding_hours.to_string()),
    };
    let off_time = match inst.status {
        // Delisted: the time it went off (listing + 1 year).
        Status::Settling => (inst.listed_ms + 365 * DAY_MS).to_string(),
        _ => "-1".to_string(),
    };
    o.str("symbol", &inst.symbol)
        .str("baseCoin", &inst.base)
        .str("quoteCoin", inst.quote)
        .str("buyLimitPriceRatio", "0.05")
        .str("sellLimitPriceRatio", "0.05")
        .str("feeRateUpRatio", "0.005")
        .str("makerFeeRate", "0.0002")
        .str("takerFeeRate", "0.0006")
        .str("openCostUpRatio", "0.01")
        .arr("supportMarginCoins", |a| {
            a.str(inst.quote);
        })
        .dec("minTradeNum", inst.step(), qd)
        .str("priceEndStep", "1")
        .str("volumePlace", &qd.to_string())
        .str("pricePlace", &pd.to_string())
        .dec("sizeMultiplier", inst.step(), qd)
        .str("symbolType", symbol_type)
        .str("minTradeUSDT", "5")
        .str("maxSymbolOrderNum", "200")
        .str("maxProductOrderNum", "400")
        .str("maxPositionNum", "150")
        .str("symbolStatus", status_word(inst))
        .str("offTime", &off_time)
        .str("limitOpenTime", "-1")
        .str("deliveryTime", &delivery)
        .str("deliveryStartTime", "")
        .str("launchTime", &inst.listed_ms.to_string())
        .str("fundInterval", &fund_interval)
        .str("minLever", "1")
        .str("maxLever", if inst.real { "125" } else { "50" })
        .str("posLimit", "0.05")
        .str("maintainTime", "");
}

/// One `tickers` row of `inst` at `now_ms`, as served (for end-to-end comparisons).
pub fn ticker_row_json(inst: &Instrument, now_ms: u64) -> String {
    let mut b = String::with_capacity(700);
    json::object(&mut b, |o| ticker_row(o, inst, now_ms));
    b
}

/// One `current-fund-rate` row of `inst` at `now_ms`, as served.
pub fn fund_rate_row_json(inst: &Instrument, now_ms: u64) -> String {
    let mut b = String::with_capacity(256);
    json::object(&mut b, |o| fund_rate_row(o, inst, now_ms));
    b
}

fn ticker_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let (pd, qd) = (inst.price_dp, inst.qty_dp);
    o.str("symbol", &inst.symbol)
        .dec("lastPr", s.last, pd)
        .dec("askPr", s.ask, pd)
        .dec("bidPr", s.bid, pd)
        .dec("bidSz", s.bid_qty, qd)
        .dec("askSz", s.ask_qty, qd)
        .dec("high24h", s.high_24h, pd)
        .dec("low24h", s.low_24h, pd)
        .str("ts", &s.ts_ms.to_string())
        .dec("change24h", s.last / s.open_24h - 1.0, 5)
        .dec("baseVolume", s.vol_base, qd.max(1))
        .dec("quoteVolume", s.vol_quote, 4)
        .dec("usdtVolume", s.vol_quote, 4)
        .dec("openUtc", s.open_24h, pd)
        .dec("changeUtc24h", s.last / s.open_24h - 1.0, 5)
        .dec("indexPrice", s.index, pd + 2)
        .dec_trim("fundingRate", s.funding_rate, 8)
        .dec("holdingAmount", s.oi_base, qd.max(1));
    match inst.contract {
        Contract::Quarterly { expiry_ms, .. } => {
            o.str(
                "deliveryStartTime",
                &(expiry_ms.saturating_sub(90 * DAY_MS)).to_string(),
            )
            .str("deliveryTime", &expiry_ms.to_string())
            .str("deliveryStatus", "delivery_normal");
        }
        _ => {
            o.null("deliveryStartTime")
                .null("deliveryTime")
                .str("deliveryStatus", "");
        }
    }
    o.dec("open24h", s.open_24h, pd)
        .dec("markPrice", s.mark, pd);
}

fn fund_rate_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    o.str("symbol", &inst.symbol)
        .dec_trim("fundingRate", s.funding_rate, 8)
        .str("fundingRateInterval", &inst.funding_hours.to_string())
        .str("nextUpdate", &s.next_funding_ms.to_string())
        .dec_trim("minFundingRate", inst.funding_floor, 6)
        .dec_trim("maxFundingRate", inst.funding_cap, 6);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InstanceConfig;

    #[test]
    fn universe_mixes_usdc_dated_multiplied_and_renamed_contracts() {
        let cfg = InstanceConfig::new("bitget", ExchangeKind::Bitget);
        let list = compose(&cfg, 1_765_000_000_000);
        assert_eq!(list.len(), cfg.universe);
        let has = |s: &str| list.iter().any(|i| i.symbol == s);
        assert!(has("BTCUSDT") && has("BTCPERP") && has("TONCOINUSDT") && has("1000BONKUSDT"));
        assert!(list
            .iter()
            .any(|i| i.symbol.starts_with("BTCUSDT_") && !i.is_perpetual()));
        for hours in [1, 4, 8] {
            assert!(list.iter().any(|i| i.funding_hours == hours), "{hours} h");
        }
        assert!(list.iter().any(|i| i.status == Status::PreLaunch));
        assert!(list.iter().any(|i| i.status == Status::Settling));
        assert!(list
            .iter()
            .any(|i| status_word(i) == "limit_open" && i.is_trading()));
    }

    #[test]
    fn error_bodies_are_bitget_envelopes() {
        let v: serde_json::Value = serde_json::from_str(&error(RATE_LIMITED, "", 5).body).unwrap();
        assert_eq!(v["code"], "429");
        assert_eq!(v["msg"], "Too Many Requests");
        assert!(v["data"].is_null());
        assert_eq!(error(RATE_LIMITED, "", 5).status, 429);
        assert_eq!(error(PARAMETER_INVALID, "", 5).status, 400);
    }
}
