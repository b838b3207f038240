//! The dYdX v4 indexer's public REST API: `/v4/perpetualMarkets` (optional `ticker=`/`market=`
//! for one market, `limit=`), `/v4/height` and `/v4/time` — and the universe such an instance
//! lists ([`compose`]).
//!
//! Wire conventions copied from the indexer (exchange-notes §10; ccxt dydx `parse_market`'s
//! sample; the recorded `dydx/perpetual-markets.json`): `perpetualMarkets` is
//! `{"markets":{"BTC-USD":{…},…}}`, an object keyed by ticker, listing every market whatever its
//! `status` (`ACTIVE`, `PAUSED`, `CANCEL_ONLY`, `POST_ONLY`, `INITIALIZING`,
//! `FINAL_SETTLEMENT`); numbers are decimal strings (`trades24H`, `atomicResolution` and a
//! few other integers are JSON numbers); there is no last trade, no book and no base volume,
//! only the `oraclePrice`, the USD `volume24H`, the base `openInterest` and `nextFundingRate`,
//! the running estimate of the current hour's funding (funding is hourly). The only times are
//! ISO-8601: `/v4/height` answers the latest block `{"height":"…","time":"…Z"}` (a block every
//! [`BLOCK_MS`]), `/v4/time` `{"iso":"…Z","epoch":<seconds with ms>}`.
//! Errors (the indexer's comlink source): `{"errors":[{"msg":"…"}]}` with the HTTP status —
//! 400 for bad parameters (express-validator adds `value`, `param`, `location`), 404 for an
//! unknown ticker, 429 `Too many requests` for rate limits (what faults send, with
//! `RateLimit-Reset` in Unix ms and `Retry-After` in **milliseconds**, as the indexer writes
//! them).
//!
//! Owns: this exchange's universe composition (one `<COIN>-USD` market per coin, hourly
//! funding, a few markets in each non-active status) and the wire format of its endpoints.
//! Must not: invent values (they come from `market`'s snapshots) or apply faults.

use super::{ApiResponse, Query, Venue};
use crate::{
    config::InstanceConfig,
    json,
    market::{civil_from_days, coins, make, unit, Contract, Instrument, Spec, Status},
};

/// dYdX funds every hour.
const FUNDING_HOURS: u32 = 1;
/// The quote the tickers name (`BTC-USD`); ccxt calls it USDC.
const QUOTE: &str = "USD";
/// The market-data figures are the 8-hour ones of `market`: hourly is an eighth.
const HOURS_PER_8H: f64 = 8.0;
/// Decimals of `nextFundingRate` (the indexer prints up to 20: `0.00000254545454545455`).
const RATE_DECIMALS: u32 = 20;
/// Default universe: about the number of markets the indexer lists.
pub const DEFAULT_UNIVERSE: usize = 250;
/// The most markets one answer holds (`limit` above it is refused: comlink's `API_LIMIT_V4`).
const MAX_LIMIT: usize = 1_000;
/// A block every 1.1 s, counted from a fixed genesis.
pub const BLOCK_MS: u64 = 1_100;
const GENESIS_MS: u64 = 1_700_000_000_000;
const GENESIS_HEIGHT: u64 = 1_000_000;
const DAY_MS: u64 = 86_400_000;

/// Non-active statuses of synthetic markets, by share of those (cumulative thresholds).
const STATUS_SHARES: [(f64, &str); 5] = [
    (0.02, "FINAL_SETTLEMENT"),
    (0.03, "INITIALIZING"),
    (0.05, "PAUSED"),
    (0.06, "CANCEL_ONLY"),
    (0.07, "POST_ONLY"),
];
const ACTIVE: &str = "ACTIVE";

/// `Too many requests` (HTTP 429): what rate-limit faults answer.
pub const RATE_LIMITED: i64 = 429;
/// The indexer's budget per window, sent as `RateLimit-Limit`.
pub const RATE_LIMIT_POINTS: u64 = 100;

/// The universe of a dYdX instance: `<COIN>-USD` for every coin, real ones first, all hourly;
/// a few synthetic ones in each non-active status (see [`market_status`]).
pub fn compose(cfg: &InstanceConfig, _now_ms: u64) -> Vec<Instrument> {
    let mut out = Vec::with_capacity(cfg.universe);
    for (code, coin) in coins(cfg.universe).into_iter().enumerate() {
        let mut inst = make(Spec {
            cfg,
            symbol: format!("{}-{QUOTE}", coin.name),
            base: coin.name.clone(),
            quote: QUOTE,
            contract: Contract::Perpetual,
            mult: 1.0,
            code: code as u64,
            coin,
        });
        inst.funding_hours = FUNDING_HOURS;
        inst.status = match market_status(&inst) {
            "FINAL_SETTLEMENT" => Status::Settling,
            "INITIALIZING" => Status::PreLaunch,
            _ => Status::Trading,
        };
        out.push(inst);
    }
    out
}

/// The indexer's `status` of `inst`: `ACTIVE` for every real coin, a fixed few synthetic ones
/// otherwise.
pub fn market_status(inst: &Instrument) -> &'static str {
    if inst.real {
        return ACTIVE;
    }
    let u = unit(inst.h ^ 0xd7d7);
    STATUS_SHARES
        .iter()
        .find(|(share, _)| u < *share)
        .map_or(ACTIVE, |(_, status)| status)
}

/// Markets whose figures are live: not initializing and not settled for delisting.
pub fn is_live(inst: &Instrument) -> bool {
    !matches!(market_status(inst), "INITIALIZING" | "FINAL_SETTLEMENT")
}

/// The latest block at `now_ms`: (height, block time in Unix ms).
pub fn latest_block(now_ms: u64) -> (u64, u64) {
    let blocks = now_ms.saturating_sub(GENESIS_MS) / BLOCK_MS;
    (GENESIS_HEIGHT + blocks, GENESIS_MS + blocks * BLOCK_MS)
}

/// `2025-12-08T16:11:59.450Z`: ISO-8601 UTC with milliseconds, as the indexer prints times.
pub fn iso_ms(ms: u64) -> String {
    let (y, m, d) = civil_from_days((ms / DAY_MS) as i64);
    let of_day = ms % DAY_MS;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1_000 % 60,
        of_day % 1_000
    )
}

/// One market as served (every decimal the exact string sent).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketText {
    pub status: &'static str,
    pub oracle_price: String,
    pub price_change_24h: String,
    pub volume_24h: String,
    pub trades_24h: u64,
    pub next_funding_rate: String,
    pub open_interest: String,
    pub tick_size: String,
    pub step_size: String,
}

/// What `perpetualMarkets` shows for `inst` at `now_ms`. Markets that are not live show no
/// trading: zero volume, trades, open interest and funding.
pub fn market(inst: &Instrument, now_ms: u64) -> MarketText {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let live = is_live(inst);
    let zero = || "0".to_string();
    MarketText {
        status: market_status(inst),
        oracle_price: json::fixed(s.index, pd + 1, true),
        price_change_24h: json::fixed(s.index - s.open_24h, pd + 3, true),
        volume_24h: if live {
            json::fixed(s.vol_quote, 4, true)
        } else {
            zero()
        },
        trades_24h: if live { s.trades_24h } else { 0 },
        next_funding_rate: if live {
            json::fixed(s.funding_rate / HOURS_PER_8H, RATE_DECIMALS, true)
        } else {
            zero()
        },
        open_interest: if live {
            json::fixed(s.oi_base, inst.qty_dp, true)
        } else {
            zero()
        },
        tick_size: json::fixed(inst.tick(), pd, true),
        step_size: json::fixed(inst.step(), inst.qty_dp, true),
    }
}

/// Answers `path`, or `None` when the indexer has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    Some(match path {
        "/v4/perpetualMarkets" => markets(venue, query, now_ms),
        "/v4/height" => {
            let (height, time) = latest_block(now_ms);
            let mut b = String::with_capacity(64);
            json::object(&mut b, |o| {
                o.str("height", &height.to_string())
                    .str("time", &iso_ms(time));
            });
            ApiResponse::json(200, b)
        }
        "/v4/time" => {
            let mut b = String::with_capacity(64);
            json::object(&mut b, |o| {
                o.str("iso", &iso_ms(now_ms))
                    .raw("epoch", &json::fixed(now_ms as f64 / 1_000.0, 3, true));
            });
            ApiResponse::json(200, b)
        }
        _ => return None,
    })
}

fn markets(venue: &Venue, query: &Query, now_ms: u64) -> ApiResponse {
    let limit = match query.non_empty("limit") {
        None => MAX_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return validation_error(
                    raw,
                    &format!(
                    "limit must be a positive integer that is not greater than max: {MAX_LIMIT}"
                ),
                    "limit",
                )
            }
        },
    };
    let list: Vec<&Instrument> = match (query.non_empty("ticker"), query.non_empty("market")) {
        (Some(_), Some(_)) => {
            return error(400, "Only one of ticker or market may be provided");
        }
        (Some(one), None) | (None, Some(one)) => match venue.universe.get(one) {
            Some(inst) => vec![inst],
            None => {
                return error(
                    404,
                    &format!("{one} not found in markets of type PERPETUAL"),
                )
            }
        },
        (None, None) => venue.universe.instruments.iter().take(limit).collect(),
    };
    let mut b = String::with_capacity(64 + list.len() * 720);
    json::object(&mut b, |o| {
        o.obj("markets", |m| {
            for inst in &list {
                m.obj(&inst.symbol, |row| market_row(row, inst, now_ms));
            }
        });
    });
    ApiResponse::json(200, b)
}

/// `atomicResolution`: quantums per base unit as a power of ten (BTC -10, ETH -9, SOL -7 in
/// the recording): finer for dearer coins.
fn atomic_resolution(inst: &Instrument) -> i64 {
    -(i64::from(inst.qty_dp) + 6)
}

fn market_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let t = market(inst, now_ms);
    let isolated = !inst.real && unit(inst.h ^ 0x150) < 0.3;
    let (imf, mmf) = match inst.rank {
        0 | 1 => ("0.02", "0.012"),
        r if r != usize::MAX => ("0.05", "0.03"),
        _ => ("0.1", "0.05"),
    };
    let oi: f64 = t.open_interest.parse().unwrap_or(0.0);
    o.str("clobPairId", &inst.code.to_string())
        .str("ticker", &inst.symbol)
        .str("status", t.status)
        .str("oraclePrice", &t.oracle_price)
        .str("priceChange24H", &t.price_change_24h)
        .str("volume24H", &t.volume_24h)
        .int("trades24H", t.trades_24h as i64)
        .str("nextFundingRate", &t.next_funding_rate)
        .str("initialMarginFraction", imf)
        .str("maintenanceMarginFraction", mmf)
        .str("openInterest", &t.open_interest)
        .int("atomicResolution", atomic_resolution(inst))
        .int("quantumConversionExponent", -9)
        .str("tickSize", &t.tick_size)
        .str("stepSize", &t.step_size)
        .int("stepBaseQuantums", 1_000_000)
        .int("subticksPerTick", 100_000)
        .str("marketType", if isolated { "ISOLATED" } else { "CROSS" })
        .str("openInterestLowerCap", "0")
        .str("openInterestUpperCap", "0")
        .str(
            "baseOpenInterest",
            &json::fixed(oi * 2.0, inst.qty_dp, true),
        )
        .str("defaultFundingRate1H", "0");
}

/// `{"errors":[{"msg":…}]}` with `status`.
fn error(status: u16, msg: &str) -> ApiResponse {
    let mut b = String::with_capacity(64 + msg.len());
    error_body(&mut b, msg);
    ApiResponse::json(status, b)
}

/// express-validator's 400: `{"errors":[{"value":…,"msg":…,"param":…,"location":"query"}]}`.
fn validation_error(value: &str, msg: &str, param: &str) -> ApiResponse {
    let mut b = String::with_capacity(128 + msg.len());
    json::object(&mut b, |o| {
        o.arr("errors", |a| {
            a.obj(|e| {
                e.str("value", value)
                    .str("msg", msg)
                    .str("param", param)
                    .str("location", "query");
            });
        });
    });
    ApiResponse::json(400, b)
}

/// The indexer's error body for `msg` (also what faults send; it carries no code).
pub fn error_body(b: &mut String, msg: &str) {
    json::object(b, |o| {
        o.arr("errors", |a| {
            a.obj(|e| {
                e.str("msg", msg);
            });
        });
    });
}

/// The message the indexer sends with an HTTP status.
pub fn default_error_msg(code: i64) -> &'static str {
    match code {
        RATE_LIMITED => "Too many requests",
        404 => "Not Found",
        400 => "Bad Request",
        _ => "Internal Server Error",
    }
}

/// The HTTP status of an error "code": the indexer's codes are HTTP statuses.
pub fn status_of(code: i64) -> u16 {
    u16::try_from(code)
        .ok()
        .filter(|s| (400..600).contains(s))
        .unwrap_or(500)
}

/// The rate-limit headers of a 429, as comlink sets them: `Retry-After` in milliseconds,
/// `RateLimit-Reset` the Unix ms time the window frees up.
pub fn rate_limit_headers(retry_after_s: u64, now_ms: u64) -> [(&'static str, String); 4] {
    let wait_ms = retry_after_s.saturating_mul(1_000);
    [
        ("retry-after", wait_ms.to_string()),
        (
            "ratelimit-reset",
            now_ms.saturating_add(wait_ms).to_string(),
        ),
        ("ratelimit-limit", RATE_LIMIT_POINTS.to_string()),
        ("ratelimit-remaining", "0".to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::ExchangeKind, exchanges::respond as route};

    fn venue() -> Venue {
        Venue::new(InstanceConfig::new("dydx", ExchangeKind::Dydx))
    }

    fn get(v: &Venue, path: &str, query: &str, now: u64) -> (u16, serde_json::Value) {
        let r = route(v, "GET", path, &Query::parse(Some(query)), now);
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    #[test]
    fn universe_is_hourly_usd_markets_with_a_few_of_each_status() {
        let v = venue();
        let list = &v.universe.instruments;
        assert_eq!(list.len(), DEFAULT_UNIVERSE);
        assert_eq!(list[0].symbol, "BTC-USD");
        assert!(list
            .iter()
            .all(|i| i.funding_hours == 1 && i.is_perpetual()));
        for status in STATUS_SHARES.iter().map(|(_, s)| *s) {
            assert!(
                list.iter().any(|i| market_status(i) == status),
                "no {status} market"
            );
        }
        let live = list.iter().filter(|i| is_live(i)).count();
        assert!(live > DEFAULT_UNIVERSE * 9 / 10, "{live}");
    }

    #[test]
    fn markets_are_an_object_keyed_by_ticker_with_string_numbers() {
        let v = venue();
        let now = crate::exchanges::now_ms();
        let (status, body) = get(&v, "/v4/perpetualMarkets", "", now);
        assert_eq!(status, 200);
        let markets = body["markets"].as_object().unwrap();
        assert_eq!(markets.len(), DEFAULT_UNIVERSE);
        let btc = &markets["BTC-USD"];
        assert_eq!(btc["ticker"], "BTC-USD");
        assert_eq!(btc["status"], "ACTIVE");
        let want = market(v.universe.get("BTC-USD").unwrap(), now);
        assert_eq!(btc["oraclePrice"], want.oracle_price.as_str());
        assert_eq!(btc["nextFundingRate"], want.next_funding_rate.as_str());
        assert!(btc["trades24H"].is_u64());
        for absent in [
            "lastPrice",
            "bestBid",
            "bestAsk",
            "markPrice",
            "volume24HBase",
        ] {
            assert!(btc.get(absent).is_none(), "{absent}");
        }
        let (_, one) = get(&v, "/v4/perpetualMarkets", "ticker=ETH-USD", now);
        assert_eq!(one["markets"].as_object().unwrap().len(), 1);
        let (_, few) = get(&v, "/v4/perpetualMarkets", "limit=3", now);
        assert_eq!(few["markets"].as_object().unwrap().len(), 3);
    }

    #[test]
    fn the_block_time_is_iso_8601_with_milliseconds() {
        let v = venue();
        let now = 1_765_210_319_999;
        let (status, body) = get(&v, "/v4/height", "", now);
        assert_eq!(status, 200);
        let (height, time) = latest_block(now);
        assert!(time <= now && now - time < BLOCK_MS);
        assert_eq!(body["height"], height.to_string());
        assert_eq!(body["time"], iso_ms(time));
        assert_eq!(iso_ms(1_765_210_319_450), "2025-12-08T16:11:59.450Z");
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        let (_, t) = get(&v, "/v4/time", "", 1_765_210_316_125);
        assert_eq!(t["iso"], "2025-12-08T16:11:56.125Z");
        assert_eq!(t["epoch"].as_f64(), Some(1_765_210_316.125));
    }

    #[test]
    fn bad_parameters_answer_the_indexers_error_bodies() {
        let v = venue();
        let now = crate::exchanges::now_ms();
        let (status, body) = get(&v, "/v4/perpetualMarkets", "ticker=XYZ-USD", now);
        assert_eq!(status, 404);
        assert_eq!(
            body["errors"][0]["msg"],
            "XYZ-USD not found in markets of type PERPETUAL"
        );
        let (status, body) = get(&v, "/v4/perpetualMarkets", "limit=0", now);
        assert_eq!(status, 400);
        assert_eq!(body["errors"][0]["param"], "limit");
        let (status, _) = get(
            &v,
            "/v4/perpetualMarkets",
            "ticker=BTC-USD&market=BTC-USD",
            now,
        );
        assert_eq!(status, 400);
        let r = route(&v, "GET", "/v4/orderbooks", &Query::parse(None), now);
        assert_eq!(r.status, 404);
        let headers = rate_limit_headers(2, 1_000);
        assert_eq!(headers[0], ("retry-after", "2000".to_string()));
        assert_eq!(headers[1], ("ratelimit-reset", "3000".to_string()));
    }
}
