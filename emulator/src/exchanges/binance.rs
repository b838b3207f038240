//! Binance USDⓈ-M futures public REST (`/fapi/v1/...`): exchangeInfo, ticker/24hr,
//! ticker/bookTicker, premiumIndex, fundingInfo and openInterest, with Binance's field names,
//! string-encoded decimals, `symbol=` single-object answers and `{"code":-1121,...}` errors.
//!
//! Owns: the wire format of these endpoints and Binance's request weights (reported in
//! `X-MBX-USED-WEIGHT-1M`, never enforced).
//! Must not: invent values (they come from `market::Instrument::snapshot`) or apply faults.
//!
//! Delivery contracts in `premiumIndex` carry `nextFundingTime: 0` and no funding rate. Binance
//! has sent that "absent" rate both as `""` and as `"0.00000000"` over time; this emulator sends
//! `""` for the BTC quarterlies and `"0.00000000"` for the ETH ones, so clients meet both.

use super::{error_envelope, rows, ApiResponse, Query, Venue};
use crate::{
    config::ExchangeKind,
    json,
    market::{Contract, Instrument, Status, PERPETUAL_DELIVERY_MS},
};

/// Answers `path`, or `None` when Binance has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    let symbol = query.get("symbol");
    let (weight, answer) = match path {
        "/fapi/v1/exchangeInfo" => (1, ApiResponse::json(200, exchange_info(venue, now_ms))),
        "/fapi/v1/ticker/24hr" => (
            if symbol.is_some() { 1 } else { 40 },
            per_symbol(venue, symbol, now_ms, ticker_24hr),
        ),
        "/fapi/v1/ticker/bookTicker" => (
            if symbol.is_some() { 2 } else { 5 },
            per_symbol(venue, symbol, now_ms, book_ticker),
        ),
        "/fapi/v1/premiumIndex" => (
            if symbol.is_some() { 1 } else { 10 },
            per_symbol(venue, symbol, now_ms, premium_index),
        ),
        "/fapi/v1/fundingInfo" => (1, ApiResponse::json(200, funding_info(venue))),
        "/fapi/v1/openInterest" => (1, open_interest(venue, symbol, now_ms)),
        "/fapi/v1/ping" => (1, ApiResponse::json(200, "{}".into())),
        "/fapi/v1/time" => (
            1,
            ApiResponse::json(200, format!("{{\"serverTime\":{now_ms}}}")),
        ),
        _ => return None,
    };
    let used = venue.use_weight(now_ms, weight);
    Some(answer.with_header("x-mbx-used-weight-1m", used.to_string()))
}

/// A Binance error answer.
pub fn error(status: u16, code: i64, now_ms: u64) -> ApiResponse {
    let msg = super::default_error_msg(ExchangeKind::Binance, code);
    ApiResponse::json(
        status,
        error_envelope(ExchangeKind::Binance, code, msg, now_ms),
    )
}

type RowFn = fn(&mut json::Obj<'_>, &Instrument, u64);

/// All trading symbols as an array, or one (`symbol=`) as a single object.
fn per_symbol(venue: &Venue, symbol: Option<&str>, now_ms: u64, row: RowFn) -> ApiResponse {
    match symbol {
        Some(s) => match venue.universe.get(s).filter(|i| i.is_trading()) {
            Some(inst) => {
                let mut b = String::with_capacity(512);
                json::object(&mut b, |o| row(o, inst, now_ms));
                ApiResponse::json(200, b)
            }
            None => error(400, -1121, now_ms),
        },
        None => ApiResponse::json(
            200,
            rows(
                venue.universe.trading(),
                400 * venue.universe.instruments.len(),
                |o, i| row(o, i, now_ms),
            ),
        ),
    }
}

fn status_word(inst: &Instrument) -> &'static str {
    match inst.status {
        Status::Trading => "TRADING",
        Status::PreLaunch => "PENDING_TRADING",
        Status::Settling => "SETTLING",
    }
}

fn contract_type(inst: &Instrument) -> &'static str {
    match inst.contract {
        Contract::Quarterly { next: false, .. } => "CURRENT_QUARTER",
        Contract::Quarterly { next: true, .. } => "NEXT_QUARTER",
        _ => "PERPETUAL",
    }
}

const SUB_TYPES: [&str; 7] = [
    "Layer-1",
    "DeFi",
    "Meme",
    "AI",
    "Gaming",
    "Layer-2",
    "Infrastructure",
];

fn exchange_info(venue: &Venue, now_ms: u64) -> String {
    let mut b = String::with_capacity(256 + 1_400 * venue.universe.instruments.len());
    json::object(&mut b, |o| {
        o.str("timezone", "UTC")
            .int("serverTime", now_ms as i64)
            .str("futuresType", "U_MARGINED")
            .arr("rateLimits", |a| {
                for (kind, interval, num, limit) in [
                    ("REQUEST_WEIGHT", "MINUTE", 1, 2400),
                    ("ORDERS", "MINUTE", 1, 1200),
                    ("ORDERS", "SECOND", 10, 300),
                ] {
                    a.obj(|o| {
                        o.str("rateLimitType", kind)
                            .str("interval", interval)
                            .int("intervalNum", num)
                            .int("limit", limit);
                    });
                }
            })
            .raw("exchangeFilters", "[]")
            .arr("assets", |a| {
                for (asset, auto) in [
                    ("USDT", "-10000"),
                    ("USDC", "-10000"),
                    ("BTC", "-0.10000000"),
                    ("BNB", "-0.00010000"),
                ] {
                    a.obj(|o| {
                        o.str("asset", asset)
                            .bool("marginAvailable", true)
                            .str("autoAssetExchange", auto);
                    });
                }
            })
            .arr("symbols", |a| {
                for inst in &venue.universe.instruments {
                    a.obj(|o| symbol_info(o, inst));
                }
            });
    });
    b
}

fn symbol_info(o: &mut json::Obj<'_>, inst: &Instrument) {
    let (pd, qd) = (inst.price_dp, inst.qty_dp);
    let (delivery, pair) = match inst.contract {
        Contract::Quarterly { expiry_ms, .. } => {
            (expiry_ms, format!("{}{}", inst.base, inst.quote))
        }
        _ => (PERPETUAL_DELIVERY_MS, inst.symbol.clone()),
    };
    let max_qty = (1.0e7 / inst.level).max(inst.step() * 10.0);
    o.str("symbol", &inst.symbol)
        .str("pair", &pair)
        .str("contractType", contract_type(inst))
        .int("deliveryDate", delivery as i64)
        .int("onboardDate", inst.listed_ms as i64)
        .str("status", status_word(inst))
        .str("maintMarginPercent", "2.5000")
        .str("requiredMarginPercent", "5.0000")
        .str("baseAsset", &inst.base)
        .str("quoteAsset", inst.quote)
        .str("marginAsset", inst.quote)
        .int("pricePrecision", i64::from(pd))
        .int("quantityPrecision", i64::from(qd))
        .int("baseAssetPrecision", 8)
        .int("quotePrecision", 8)
        .str("underlyingType", "COIN")
        .arr("underlyingSubType", |a| {
            a.str(SUB_TYPES[(inst.key % SUB_TYPES.len() as u64) as usize]);
        })
        .str("triggerProtect", "0.0500")
        .str("liquidationFee", "0.012500")
        .str("marketTakeBound", "0.05")
        .int("maxMoveOrderLimit", 10_000)
        .arr("filters", |a| {
            a.obj(|f| {
                f.str("filterType", "PRICE_FILTER")
                    .dec("minPrice", (inst.level * 0.005).max(inst.tick()), pd)
                    .dec("maxPrice", inst.level * 50.0, pd)
                    .dec("tickSize", inst.tick(), pd);
            });
            a.obj(|f| {
                f.str("filterType", "LOT_SIZE")
                    .dec("minQty", inst.step(), qd)
                    .dec("maxQty", max_qty, qd)
                    .dec("stepSize", inst.step(), qd);
            });
            a.obj(|f| {
                f.str("filterType", "MARKET_LOT_SIZE")
                    .dec("minQty", inst.step(), qd)
                    .dec("maxQty", max_qty / 10.0, qd)
                    .dec("stepSize", inst.step(), qd);
            });
            a.obj(|f| {
                f.str("filterType", "MAX_NUM_ORDERS").int("limit", 200);
            });
            a.obj(|f| {
                f.str("filterType", "MAX_NUM_ALGO_ORDERS").int("limit", 10);
            });
            a.obj(|f| {
                f.str("filterType", "MIN_NOTIONAL").str("notional", if inst.real { "100" } else { "5" });
            });
            a.obj(|f| {
                f.str("filterType", "PERCENT_PRICE")
                    .str("multiplierUp", "1.0500")
                    .str("multiplierDown", "0.9500")
                    .str("multiplierDecimal", "4");
            });
        })
        .raw("orderTypes", r#"["LIMIT","MARKET","STOP","STOP_MARKET","TAKE_PROFIT","TAKE_PROFIT_MARKET","TRAILING_STOP_MARKET"]"#)
        .raw("timeInForce", r#"["GTC","IOC","FOK","GTX","GTD"]"#)
        .raw("permissionSets", r#"["GRID","COPY"]"#);
}

fn ticker_24hr(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let (pd, qd) = (inst.price_dp, inst.qty_dp);
    let change = s.last - s.open_24h;
    o.str("symbol", &inst.symbol)
        .dec("priceChange", change, pd)
        .dec("priceChangePercent", change / s.open_24h * 100.0, 3)
        .dec(
            "weightedAvgPrice",
            (s.open_24h + s.last + s.high_24h + s.low_24h) / 4.0,
            pd,
        )
        .dec("lastPrice", s.last, pd)
        .dec("lastQty", s.last_qty, qd)
        .dec("openPrice", s.open_24h, pd)
        .dec("highPrice", s.high_24h, pd)
        .dec("lowPrice", s.low_24h, pd)
        .dec("volume", s.vol_base, qd)
        .dec("quoteVolume", s.vol_quote, 2)
        .int("openTime", s.ts_ms.saturating_sub(86_400_000) as i64)
        .int("closeTime", s.ts_ms as i64)
        .int("firstId", s.first_id as i64)
        .int("lastId", s.last_id as i64)
        .int("count", s.trades_24h as i64);
}

fn book_ticker(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let (pd, qd) = (inst.price_dp, inst.qty_dp);
    o.int("lastUpdateId", (s.ts_ms * 7 + inst.h % 1_000) as i64)
        .str("symbol", &inst.symbol)
        .dec("bidPrice", s.bid, pd)
        .dec("bidQty", s.bid_qty, qd)
        .dec("askPrice", s.ask, pd)
        .dec("askQty", s.ask_qty, qd)
        .int("time", s.ts_ms as i64);
}

fn premium_index(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    o.str("symbol", &inst.symbol)
        .dec("markPrice", s.mark, 8)
        .dec("indexPrice", s.index, 8)
        .dec("estimatedSettlePrice", s.est_settle, 8);
    if inst.is_perpetual() {
        o.dec("lastFundingRate", s.funding_rate, 8)
            .dec("interestRate", inst.interest_rate(), 8)
            .int("nextFundingTime", s.next_funding_ms as i64);
    } else if inst.coin == "BTC" {
        o.str("lastFundingRate", "")
            .str("interestRate", "")
            .int("nextFundingTime", 0);
    } else {
        o.str("lastFundingRate", "0.00000000")
            .str("interestRate", "0.00000000")
            .int("nextFundingTime", 0);
    }
    o.int("time", (s.ts_ms / 1000 * 1000) as i64);
}

fn funding_info(venue: &Venue) -> String {
    rows(
        venue.universe.trading().filter(|i| i.cap_adjusted),
        4_096,
        |o, inst: &Instrument| {
            o.str("symbol", &inst.symbol)
                .dec("adjustedFundingRateCap", inst.funding_cap, 8)
                .dec("adjustedFundingRateFloor", inst.funding_floor, 8)
                .int("fundingIntervalHours", i64::from(inst.funding_hours))
                .bool("disclaimer", false)
                .int(
                    "updateTime",
                    (inst.listed_ms + 86_400_000 * (1 + inst.h % 300)) as i64,
                );
        },
    )
}

fn open_interest(venue: &Venue, symbol: Option<&str>, now_ms: u64) -> ApiResponse {
    let Some(symbol) = symbol.filter(|s| !s.is_empty()) else {
        return error(400, -1102, now_ms);
    };
    let Some(inst) = venue.universe.get(symbol).filter(|i| i.is_trading()) else {
        return error(400, -1121, now_ms);
    };
    let s = inst.snapshot(now_ms);
    let mut b = String::with_capacity(96);
    json::object(&mut b, |o| {
        o.dec("openInterest", s.oi_base, inst.qty_dp)
            .str("symbol", &inst.symbol)
            .int("time", now_ms as i64);
    });
    ApiResponse::json(200, b)
}
