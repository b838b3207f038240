//! Table-driven tests of the Binance adapter over raw exchange JSON.
//!
//! Owns: driving `build_requests`/`parse` exactly as the export macro does (plus once through the
//! exported root module), with fake `HttpResponse`s around (a) recorded real responses read at
//! runtime from `../shared/exchange-fixtures/binanceusdm/` and (b) docs-shaped bodies written
//! here. Expected values are read from the fixture JSON itself, field by field.
//! Must not: use the network, or copy the shared fixtures into the repository.

use std::collections::{BTreeMap, BTreeSet};

use fc_plugin_binance::{
    build_requests, info, parse,
    parse::PERPETUAL_DELIVERY_SENTINEL,
    requests::{
        TAG_BOOK_TICKER, TAG_EXCHANGE_INFO, TAG_FUNDING_INFO, TAG_PREMIUM_INDEX, TAG_TICKER_24HR,
    },
    KIND_FUNDING, KIND_INSTRUMENTS, KIND_OPEN_INTEREST, KIND_TICKERS,
};
use plugin_api::abi_stable::std_types::{ROption, RSlice, RStr};
use plugin_api::{
    Context, ErrorClass, HttpMethod, HttpRequest, HttpResponse, IntervalSource, KeyValueRef,
    MarketType, ParseOutput, Record, RecordKind,
};
use serde_json::{json, Value};

// --- fixtures and expected values --------------------------------------------------------------

const PREMIUM_ALL: &str = "premium-index-all.json";
const PREMIUM_ALL_2020: &str = "premium-index-all-2020.json";
const PREMIUM_BTCUSDT: &str = "premium-index-btcusdt.json";
const TICKER_24HR_ALL: &str = "ticker-24hr-all.json";
const BOOK_TICKER_ALL: &str = "book-ticker-all.json";
const FUNDING_INFO: &str = "funding-info.json";
const OPEN_INTEREST_BTCUSDT: &str = "open-interest-btcusdt.json";

const NOW: i64 = 1_732_715_660_000;

fn fixture(name: &str) -> Vec<u8> {
    plugin_kit::fixtures::read("binanceusdm", name)
}

/// A fixture's rows as JSON values (a single object is one row).
fn rows(name: &str) -> Vec<Value> {
    match serde_json::from_slice::<Value>(&fixture(name)).unwrap() {
        Value::Array(rows) => rows,
        object => vec![object],
    }
}

fn by_symbol(rows: Vec<Value>) -> BTreeMap<String, Value> {
    rows.into_iter()
        .map(|r| (r["symbol"].as_str().unwrap().to_owned(), r))
        .collect()
}

/// A decimal field as Binance writes it (string or number); `""`/missing is `None`.
fn num(row: &Value, key: &str) -> Option<f64> {
    match row.get(key)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.parse::<f64>().unwrap()),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// A Unix-ms field; `0`/missing is `None`.
fn ts(row: &Value, key: &str) -> Option<i64> {
    row.get(key)?.as_i64().filter(|t| *t > 0)
}

fn opt<T: Copy>(v: &ROption<T>) -> Option<T> {
    v.as_ref().into_option().copied()
}

fn is_delivery(symbol: &str) -> bool {
    symbol.contains('_')
}

// --- docs-shaped exchangeInfo ------------------------------------------------------------------

/// A small `GET /fapi/v1/exchangeInfo` body, DOCS-SHAPED: the structure and field names follow
/// Binance's "Exchange Information" response example (USDⓈ-M futures); symbols, dates and
/// filters are illustrative. Covers every contract type and status the adapter distinguishes.
const EXCHANGE_INFO_DOCS: &str = r#"{
  "exchangeFilters": [],
  "rateLimits": [
    {"interval": "MINUTE", "intervalNum": 1, "limit": 2400, "rateLimitType": "REQUEST_WEIGHT"},
    {"interval": "MINUTE", "intervalNum": 1, "limit": 1200, "rateLimitType": "ORDERS"}
  ],
  "serverTime": 1732715655000,
  "assets": [
    {"asset": "USDT", "marginAvailable": true, "autoAssetExchange": "0"},
    {"asset": "USDC", "marginAvailable": true, "autoAssetExchange": "0"}
  ],
  "symbols": [
    {"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
     "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
     "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
     "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
     "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8, "quotePrecision": 8,
     "underlyingType": "COIN", "underlyingSubType": ["PoW"], "settlePlan": 0, "triggerProtect": "0.0500",
     "filters": [
       {"filterType": "PRICE_FILTER", "maxPrice": "4529764", "minPrice": "556.80", "tickSize": "0.10"},
       {"filterType": "LOT_SIZE", "maxQty": "1000", "minQty": "0.001", "stepSize": "0.001"},
       {"filterType": "MIN_NOTIONAL", "notional": "100"},
       {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"}
     ],
     "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
     "liquidationFee": "0.012500", "marketTakeBound": "0.05"},
    {"symbol": "BTCUSDC", "pair": "BTCUSDC", "contractType": "PERPETUAL",
     "deliveryDate": 4133404800000, "onboardDate": 1705993200000, "status": "TRADING",
     "baseAsset": "BTC", "quoteAsset": "USDC", "marginAsset": "USDC",
     "filters": [{"filterType": "PRICE_FILTER", "maxPrice": "4529764", "minPrice": "556.80", "tickSize": "0.1"}]},
    {"symbol": "ETHUSDT", "pair": "ETHUSDT", "contractType": "PERPETUAL",
     "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
     "baseAsset": "ETH", "quoteAsset": "USDT", "marginAsset": "USDT",
     "filters": [{"filterType": "PRICE_FILTER", "maxPrice": "306177", "minPrice": "39.86", "tickSize": "0.01"}]},
    {"symbol": "XAUUSDT", "pair": "XAUUSDT", "contractType": "TRADIFI_PERPETUAL",
     "deliveryDate": 4133404800000, "onboardDate": 1767600000000, "status": "TRADING",
     "baseAsset": "XAU", "quoteAsset": "USDT", "marginAsset": "USDT", "underlyingType": "COMMODITY",
     "filters": [{"filterType": "LOT_SIZE", "maxQty": "100", "minQty": "0.001", "stepSize": "0.001"},
                 {"filterType": "PRICE_FILTER", "maxPrice": "100000", "minPrice": "100", "tickSize": "0.01"}]},
    {"symbol": "ETHUSDT_250328", "pair": "ETHUSDT", "contractType": "CURRENT_QUARTER",
     "deliveryDate": 1743148800000, "onboardDate": 1727424000000, "status": "TRADING",
     "baseAsset": "ETH", "quoteAsset": "USDT", "marginAsset": "USDT",
     "filters": [{"filterType": "PRICE_FILTER", "maxPrice": "306177", "minPrice": "39.86", "tickSize": "0.01"}]},
    {"symbol": "BTCUSDT_250627", "pair": "BTCUSDT", "contractType": "NEXT_QUARTER",
     "deliveryDate": 1751011200000, "onboardDate": 1735286400000, "status": "TRADING",
     "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
     "filters": [{"filterType": "PRICE_FILTER", "maxPrice": "4529764", "minPrice": "556.80", "tickSize": "0.10"}]},
    {"symbol": "NEWUSDT", "pair": "NEWUSDT", "contractType": "PERPETUAL",
     "deliveryDate": 4133404800000, "onboardDate": 1732780800000, "status": "PENDING_TRADING",
     "baseAsset": "NEW", "quoteAsset": "USDT", "marginAsset": "USDT",
     "filters": [{"filterType": "PRICE_FILTER", "maxPrice": "200", "minPrice": "0.0001", "tickSize": "0.0001"}]},
    {"symbol": "OLDUSDT", "pair": "OLDUSDT", "contractType": "PERPETUAL",
     "deliveryDate": 1733040000000, "onboardDate": 1600000000000, "status": "SETTLING",
     "baseAsset": "OLD", "quoteAsset": "USDT", "marginAsset": "USDT",
     "filters": [{"filterType": "PRICE_FILTER", "maxPrice": "200", "minPrice": "0.0001", "tickSize": "0"}]},
    {"symbol": "GONEUSDT", "pair": "GONEUSDT", "contractType": "PERPETUAL",
     "deliveryDate": 1700000000000, "onboardDate": 1600000000000, "status": "CLOSE",
     "baseAsset": "GONE", "quoteAsset": "USDT", "marginAsset": "USDT", "filters": []},
    {"symbol": "ODDUSDT", "pair": "ODDUSDT", "contractType": "PERPETUAL",
     "deliveryDate": 4133404800000, "onboardDate": 1600000000000, "status": "PRE_SETTLE",
     "baseAsset": "ODD", "quoteAsset": "USDT", "marginAsset": "USDT",
     "filters": [{"filterType": "PRICE_FILTER", "maxPrice": "200", "minPrice": "0.001", "tickSize": "0.001"}]},
    {"symbol": "ALIENUSDT", "pair": "ALIENUSDT", "contractType": "SOMETHING_NEW",
     "deliveryDate": 4133404800000, "onboardDate": 1600000000000, "status": "TRADING",
     "baseAsset": "ALIEN", "quoteAsset": "USDT", "marginAsset": "USDT", "filters": []}
  ],
  "timezone": "UTC"
}"#;

/// Perpetuals of [`EXCHANGE_INFO_DOCS`] whose status is TRADING, sorted.
const DOCS_TRADING: &[&str] = &["BTCUSDC", "BTCUSDT", "ETHUSDT", "XAUUSDT"];

/// A docs-shaped exchangeInfo entry for a fixture symbol: perpetual (`BTCUSDT`) or, for the
/// delivery contracts in the fixtures (`ETHUSDT_250328`), a quarterly contract.
fn generated_entry(symbol: &str) -> Value {
    let (pair, contract_type, delivery) = match symbol.split_once('_') {
        Some((pair, _)) => (pair, "CURRENT_QUARTER", 1_743_148_800_000_i64),
        None => (symbol, "PERPETUAL", PERPETUAL_DELIVERY_SENTINEL),
    };
    let quote = ["USDT", "USDC", "BTC"]
        .into_iter()
        .find(|q| pair.ends_with(q) && pair.len() > q.len())
        .unwrap_or_else(|| panic!("no quote asset in {pair}"));
    let base = &pair[..pair.len() - quote.len()];
    json!({
        "symbol": symbol, "pair": pair, "contractType": contract_type,
        "deliveryDate": delivery, "onboardDate": 1_569_398_400_000_i64, "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": base, "quoteAsset": quote, "marginAsset": quote,
        "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8, "quotePrecision": 8,
        "underlyingType": "COIN", "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
        "filters": [
            {"filterType": "PRICE_FILTER", "maxPrice": "1000000", "minPrice": "0.00001", "tickSize": "0.00001"},
            {"filterType": "LOT_SIZE", "maxQty": "1000", "minQty": "0.001", "stepSize": "0.001"}
        ],
        "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        "liquidationFee": "0.012500", "marketTakeBound": "0.05"
    })
}

/// Symbols only in `book-ticker-all.json` (delisted since 2020): kept out of the generated
/// universe so the tickers round has unknown symbols to skip.
fn delisted_book_ticker_symbols() -> BTreeSet<String> {
    let live: BTreeSet<String> = [PREMIUM_ALL, PREMIUM_ALL_2020, TICKER_24HR_ALL, FUNDING_INFO]
        .into_iter()
        .flat_map(rows)
        .map(|r| r["symbol"].as_str().unwrap().to_owned())
        .collect();
    rows(BOOK_TICKER_ALL)
        .into_iter()
        .map(|r| r["symbol"].as_str().unwrap().to_owned())
        .filter(|s| !live.contains(s))
        .collect()
}

/// A docs-shaped exchangeInfo listing every symbol of the fixtures except the delisted
/// bookTicker-only ones; delivery contracts are listed as quarterly contracts.
fn universe_exchange_info() -> Vec<u8> {
    let delisted = delisted_book_ticker_symbols();
    let symbols: BTreeSet<String> = [
        PREMIUM_ALL,
        PREMIUM_ALL_2020,
        PREMIUM_BTCUSDT,
        TICKER_24HR_ALL,
        BOOK_TICKER_ALL,
        FUNDING_INFO,
        OPEN_INTEREST_BTCUSDT,
    ]
    .into_iter()
    .flat_map(rows)
    .map(|r| r["symbol"].as_str().unwrap().to_owned())
    .filter(|s| !delisted.contains(s))
    .collect();
    let body = json!({
        "exchangeFilters": [], "rateLimits": [], "serverTime": NOW, "assets": [], "timezone": "UTC",
        "symbols": symbols.iter().map(|s| generated_entry(s)).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&body).unwrap()
}

// --- calling the plugin ------------------------------------------------------------------------

/// Instruments (from the plugin's own `instruments` parse) and the context built over them.
struct Env {
    instruments: Vec<Record>,
}

impl Env {
    fn empty() -> Self {
        Self {
            instruments: Vec::new(),
        }
    }

    fn from_exchange_info(body: &[u8]) -> Self {
        let out = run(KIND_INSTRUMENTS, &Env::empty(), |_| {
            Some((200, body.to_vec()))
        });
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        Self {
            instruments: out.records.into_iter().collect(),
        }
    }

    fn docs() -> Self {
        Self::from_exchange_info(EXCHANGE_INFO_DOCS.as_bytes())
    }

    fn universe() -> Self {
        Self::from_exchange_info(&universe_exchange_info())
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            exchange_id: "binance".into(),
            now_ms: NOW,
            instruments: RSlice::from_slice(&self.instruments),
            options: RSlice::from_slice(&[]),
            credentials: ROption::RNone,
        }
    }

    fn has(&self, symbol: &str) -> bool {
        self.ctx().instrument(symbol).is_some()
    }
}

/// `received_ts` of the response to the request at `index`: distinct per response.
fn received_ts(index: usize) -> i64 {
    NOW + 1 + index as i64
}

/// Builds the requests of `kind`, answers each with `answer(request)` (`None`: the request
/// failed and its response is missing from the round) and parses the round.
fn run(
    kind: &str,
    env: &Env,
    answer: impl Fn(&HttpRequest) -> Option<(u16, Vec<u8>)>,
) -> ParseOutput {
    let ctx = env.ctx();
    let requests = build_requests(kind, &ctx).unwrap();
    let answers: Vec<(usize, u16, Vec<u8>)> = requests
        .iter()
        .enumerate()
        .filter_map(|(i, r)| answer(r).map(|(status, body)| (i, status, body)))
        .collect();
    let responses: Vec<HttpResponse<'_>> = answers
        .iter()
        .map(|(i, status, body)| HttpResponse {
            request: &requests[*i],
            status: *status,
            headers: RSlice::from_slice(&[]),
            body: RSlice::from_slice(body),
            received_ts: received_ts(*i),
        })
        .collect();
    parse(kind, &responses, &ctx)
}

/// Answers by tag from a table; tags not in it are missing from the round.
fn by_tag(
    table: &BTreeMap<String, (u16, Vec<u8>)>,
) -> impl Fn(&HttpRequest) -> Option<(u16, Vec<u8>)> + '_ {
    |r: &HttpRequest| table.get(r.tag.as_str()).cloned()
}

fn ok(body: Vec<u8>) -> (u16, Vec<u8>) {
    (200, body)
}

fn table(entries: &[(&str, (u16, Vec<u8>))]) -> BTreeMap<String, (u16, Vec<u8>)> {
    entries
        .iter()
        .map(|(tag, answer)| ((*tag).to_owned(), answer.clone()))
        .collect()
}

fn record<'o>(out: &'o ParseOutput, symbol: &str) -> Option<&'o Record> {
    out.records.iter().find(|r| r.raw_symbol.as_str() == symbol)
}

fn request_index(kind: &str, env: &Env, tag: &str) -> usize {
    build_requests(kind, &env.ctx())
        .unwrap()
        .iter()
        .position(|r| r.tag.as_str() == tag)
        .unwrap()
}

fn assert_ticker_only_fields_untouched(r: &Record) {
    for (name, v) in [
        ("rate", &r.rate),
        ("interval_hours", &r.interval_hours),
        ("predicted_rate", &r.predicted_rate),
        ("rate_8h", &r.rate_8h),
        ("rate_annualized", &r.rate_annualized),
        ("rate_cap", &r.rate_cap),
        ("rate_floor", &r.rate_floor),
        ("contract_size", &r.contract_size),
        ("tick_size", &r.tick_size),
    ] {
        assert_eq!(opt(v), None, "{} {name}", r.raw_symbol);
    }
    assert!(r.status.is_none() && r.extra.is_empty(), "{}", r.raw_symbol);
}

fn one_warning_naming(out: &ParseOutput, count: usize) {
    let skipped: Vec<_> = out
        .warnings
        .iter()
        .filter(|w| w.contains("skipped"))
        .collect();
    assert_eq!(skipped.len(), 1, "{:?}", out.warnings);
    assert!(
        skipped[0].contains(&format!("skipped {count} symbol")),
        "{:?}",
        skipped[0]
    );
}

// --- info and requests -------------------------------------------------------------------------

#[test]
fn info_describes_binance_usdm() {
    let i = info();
    assert_eq!(i.exchange_id.as_str(), "binance");
    assert_eq!(i.name.as_str(), "Binance USDⓈ-M futures");
    assert_eq!(i.plugin_version.as_str(), env!("CARGO_PKG_VERSION"));
    assert_eq!(i.interface_version.as_str(), plugin_api::INTERFACE_VERSION);
    assert_eq!(i.default_base_url.as_str(), "https://fapi.binance.com");
    assert_eq!(i.default_funding_interval_hours, 8.0);
    assert_eq!(i.rate_limits.len(), 1);
    assert_eq!(i.rate_limits[0].path_prefix.as_str(), "");
    assert_eq!(i.rate_limits[0].limit, 2400);
    assert_eq!(i.rate_limits[0].window_ms, 60_000);
    let kinds = plugin_kit::testing::kind_table(&i);
    assert_eq!(
        kinds,
        vec![
            ("instruments", RecordKind::INSTRUMENT, 3_600_000, false),
            ("tickers", RecordKind::TICKER, 5_000, true),
            ("funding", RecordKind::FUNDING, 30_000, true),
            ("open_interest", RecordKind::TICKER, 60_000, true),
        ]
    );
}

/// `(path, weight, tag)` of an expected request.
type ExpectedRequest = (&'static str, u32, &'static str);

#[test]
fn requests_per_kind_have_documented_paths_weights_and_tags() {
    let env = Env::docs();
    let ctx = env.ctx();
    let cases: &[(&str, &[ExpectedRequest])] = &[
        (
            KIND_INSTRUMENTS,
            &[("/fapi/v1/exchangeInfo", 1, TAG_EXCHANGE_INFO)],
        ),
        (
            KIND_TICKERS,
            &[
                ("/fapi/v1/ticker/24hr", 40, TAG_TICKER_24HR),
                ("/fapi/v1/ticker/bookTicker", 5, TAG_BOOK_TICKER),
                ("/fapi/v1/premiumIndex", 10, TAG_PREMIUM_INDEX),
            ],
        ),
        (
            KIND_FUNDING,
            &[
                ("/fapi/v1/premiumIndex", 10, TAG_PREMIUM_INDEX),
                ("/fapi/v1/fundingInfo", 1, TAG_FUNDING_INFO),
            ],
        ),
    ];
    for (kind, want) in cases {
        let got = build_requests(kind, &ctx).unwrap();
        let got: Vec<(&str, u32, &str)> = got
            .iter()
            .map(|r| {
                assert_eq!(r.method, HttpMethod::GET);
                assert!(r.query.is_empty() && r.headers.is_empty() && r.body.is_empty());
                (r.path.as_str(), r.weight, r.tag.as_str())
            })
            .collect();
        assert_eq!(&got, want, "{kind}");
    }
}

#[test]
fn open_interest_requests_one_per_trading_perpetual_plus_premium_index() {
    let env = Env::docs();
    let requests = build_requests(KIND_OPEN_INTEREST, &env.ctx()).unwrap();
    let (premium, per_symbol) = requests.split_last().unwrap();
    assert_eq!(premium.path.as_str(), "/fapi/v1/premiumIndex");
    assert_eq!(premium.tag.as_str(), TAG_PREMIUM_INDEX);
    assert_eq!(premium.weight, 10);
    assert!(premium.query.is_empty());
    let symbols: Vec<&str> = per_symbol
        .iter()
        .map(|r| {
            assert_eq!(r.method, HttpMethod::GET);
            assert_eq!(r.path.as_str(), "/fapi/v1/openInterest");
            assert_eq!(r.weight, 1);
            let symbol = r.query_value("symbol").unwrap();
            assert_eq!(r.tag.as_str(), format!("oi:{symbol}"));
            symbol
        })
        .collect();
    // Pending, settling, closed and pre-settle perpetuals are not polled; nor dated contracts.
    assert_eq!(symbols, DOCS_TRADING);

    assert!(build_requests(KIND_OPEN_INTEREST, &Env::empty().ctx())
        .unwrap()
        .is_empty());
}

#[test]
fn unknown_kind_is_a_permanent_error() {
    let env = Env::docs();
    let e = build_requests("trades", &env.ctx()).unwrap_err();
    assert_eq!(e.class, ErrorClass::PERMANENT);
    let out = parse("trades", &[], &env.ctx());
    assert!(out.records.is_empty());
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PERMANENT);
}

// --- instruments -------------------------------------------------------------------------------

#[test]
fn instruments_from_docs_shaped_exchange_info() {
    let env = Env::empty();
    let body = EXCHANGE_INFO_DOCS.as_bytes().to_vec();
    let out = run(KIND_INSTRUMENTS, &env, |_| Some(ok(body.clone())));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let doc: Value = serde_json::from_str(EXCHANGE_INFO_DOCS).unwrap();
    let entries = by_symbol(doc["symbols"].as_array().unwrap().clone());

    let got: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(
        got,
        ["BTCUSDC", "BTCUSDT", "ETHUSDT", "GONEUSDT", "NEWUSDT", "ODDUSDT", "OLDUSDT", "XAUUSDT"],
        "perpetuals (incl. TRADIFI_PERPETUAL) only, sorted; dated and unknown types skipped"
    );
    let statuses = [
        ("BTCUSDT", "trading"),
        ("BTCUSDC", "trading"),
        ("ETHUSDT", "trading"),
        ("XAUUSDT", "trading"),
        ("NEWUSDT", "pre_launch"),
        ("OLDUSDT", "settling"),
        ("GONEUSDT", "delisted"),
        ("ODDUSDT", "pre_settle"),
    ];
    for (symbol, status) in statuses {
        let r = record(&out, symbol).unwrap();
        let e = &entries[symbol];
        let s = |k: &str| e[k].as_str().unwrap();
        assert_eq!(r.kind, RecordKind::INSTRUMENT);
        assert_eq!(r.exchange.as_str(), "binance");
        assert_eq!(r.base.as_str(), s("baseAsset"));
        assert_eq!(r.quote.as_str(), s("quoteAsset"));
        assert_eq!(r.settle.as_str(), s("marginAsset"));
        assert_eq!(
            r.symbol.as_str(),
            format!(
                "{}/{}:{}",
                s("baseAsset"),
                s("quoteAsset"),
                s("marginAsset")
            )
        );
        assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
        assert_eq!(opt(&r.contract_size), Some(1.0));
        let tick = e["filters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["filterType"] == "PRICE_FILTER")
            .and_then(|f| num(f, "tickSize"))
            .filter(|t| *t > 0.0);
        assert_eq!(
            opt(&r.tick_size),
            tick,
            "{symbol} tick (0 = disabled = None)"
        );
        assert_eq!(
            r.status.as_ref().map(|s| s.as_str()).into_option(),
            Some(status)
        );
        let extra: BTreeMap<&str, &str> = r
            .extra
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect();
        assert_eq!(extra.get("raw_status"), Some(&s("status")), "{symbol}");
        assert_eq!(
            extra.get("contract_type"),
            Some(&s("contractType")),
            "{symbol}"
        );
        assert_eq!(opt(&r.listing_ts), ts(e, "onboardDate"));
        let delivery = ts(e, "deliveryDate").unwrap();
        let want_delisting = (delivery != PERPETUAL_DELIVERY_SENTINEL).then_some(delivery);
        assert_eq!(opt(&r.delisting_ts), want_delisting, "{symbol}");
        assert_eq!(opt(&r.exchange_ts), ts(&doc, "serverTime"));
        assert_eq!(r.received_ts, received_ts(0));
        for v in [&r.last, &r.mark, &r.rate, &r.interval_hours, &r.rate_8h] {
            assert_eq!(opt(v), None);
        }
    }
    // The unknown contract type is reported once; dated contracts are expected and silent.
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("ALIENUSDT"), "{}", out.warnings[0]);
}

#[test]
fn instruments_that_list_no_perpetual_are_an_error_not_an_empty_universe() {
    let cases = [
        r#"{"serverTime":1,"symbols":[]}"#,
        r#"{"symbols":[{"symbol":"BTCUSDT_250328","contractType":"CURRENT_QUARTER","status":"TRADING","baseAsset":"BTC","quoteAsset":"USDT","marginAsset":"USDT"}]}"#,
        r#"{"symbols":[{"symbol":"BTCUSDT","contractType":"PERPETUAL","status":"TRADING"}]}"#,
    ];
    for body in cases {
        let out = run(KIND_INSTRUMENTS, &Env::empty(), |_| Some(ok(body.into())));
        assert!(out.records.is_empty(), "{body}");
        assert_eq!(out.errors.len(), 1, "{body}");
        assert_eq!(out.errors[0].class, ErrorClass::PARSE, "{body}");
        assert_eq!(out.errors[0].request_tag.as_str(), TAG_EXCHANGE_INFO);
    }
}

#[test]
fn generated_universe_drops_delivery_contracts() {
    let env = Env::universe();
    assert!(env.has("BTCUSDT") && env.has("BNBBTC") && env.has("BTCUSDC"));
    for r in &env.instruments {
        assert!(!is_delivery(r.raw_symbol.as_str()), "{}", r.raw_symbol);
    }
    let sorted = env
        .instruments
        .windows(2)
        .all(|w| w[0].raw_symbol < w[1].raw_symbol);
    assert!(sorted);
    let bnbbtc = env.ctx().instrument("BNBBTC").unwrap();
    assert_eq!(bnbbtc.symbol.as_str(), "BNB/BTC:BTC");
}

// --- tickers -----------------------------------------------------------------------------------

struct TickerSources {
    day: BTreeMap<String, Value>,
    book: BTreeMap<String, Value>,
    premium: BTreeMap<String, Value>,
}

/// Checks every ticker record against the rows of the sources that answered.
fn assert_tickers(out: &ParseOutput, env: &Env, src: &TickerSources) {
    let mut expected: BTreeSet<&str> = BTreeSet::new();
    for symbol in src
        .day
        .keys()
        .chain(src.book.keys())
        .chain(src.premium.keys())
    {
        if env.has(symbol) {
            expected.insert(symbol);
        }
    }
    let got: BTreeSet<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(got, expected);

    let i_day = request_index(KIND_TICKERS, env, TAG_TICKER_24HR);
    let i_book = request_index(KIND_TICKERS, env, TAG_BOOK_TICKER);
    let i_premium = request_index(KIND_TICKERS, env, TAG_PREMIUM_INDEX);
    for r in out.records.iter() {
        let symbol = r.raw_symbol.as_str();
        let inst = env.ctx().instrument(symbol).unwrap();
        assert_eq!(r.kind, RecordKind::TICKER);
        assert_eq!(r.symbol, inst.symbol);
        assert_eq!(
            (&r.base, &r.quote, &r.settle),
            (&inst.base, &inst.quote, &inst.settle)
        );
        let day = src.day.get(symbol);
        let book = src.book.get(symbol);
        let premium = src.premium.get(symbol);
        assert_eq!(
            opt(&r.last),
            day.and_then(|d| num(d, "lastPrice")),
            "{symbol}"
        );
        assert_eq!(
            opt(&r.volume_24h_base),
            day.and_then(|d| num(d, "volume")),
            "{symbol}"
        );
        assert_eq!(
            opt(&r.volume_24h_quote),
            day.and_then(|d| num(d, "quoteVolume")),
            "{symbol}"
        );
        assert_eq!(
            opt(&r.bid),
            book.and_then(|b| num(b, "bidPrice")),
            "{symbol}"
        );
        assert_eq!(
            opt(&r.ask),
            book.and_then(|b| num(b, "askPrice")),
            "{symbol}"
        );
        assert_eq!(
            opt(&r.mark),
            premium.and_then(|p| num(p, "markPrice")),
            "{symbol}"
        );
        assert_eq!(
            opt(&r.index),
            premium.and_then(|p| num(p, "indexPrice")),
            "{symbol}"
        );
        assert_eq!(opt(&r.open_interest_base), None);
        assert_eq!(opt(&r.open_interest_quote), None);
        let want_ts = match day.and_then(|d| ts(d, "closeTime")) {
            Some(close) => Some(close),
            None => book
                .and_then(|b| ts(b, "time"))
                .into_iter()
                .chain(premium.and_then(|p| ts(p, "time")))
                .max(),
        };
        assert_eq!(opt(&r.exchange_ts), want_ts, "{symbol}");
        let want_received = [(day, i_day), (book, i_book), (premium, i_premium)]
            .into_iter()
            .filter(|(row, _)| row.is_some())
            .map(|(_, i)| received_ts(i))
            .max()
            .unwrap();
        assert_eq!(r.received_ts, want_received, "{symbol}");
        assert_ticker_only_fields_untouched(r);
    }
}

#[test]
fn tickers_join_24hr_book_ticker_and_premium_index() {
    let env = Env::universe();
    let answers = table(&[
        (TAG_TICKER_24HR, ok(fixture(TICKER_24HR_ALL))),
        (TAG_BOOK_TICKER, ok(fixture(BOOK_TICKER_ALL))),
        (TAG_PREMIUM_INDEX, ok(fixture(PREMIUM_ALL))),
    ]);
    let out = run(KIND_TICKERS, &env, by_tag(&answers));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let src = TickerSources {
        day: by_symbol(rows(TICKER_24HR_ALL)),
        book: by_symbol(rows(BOOK_TICKER_ALL)),
        premium: by_symbol(rows(PREMIUM_ALL)),
    };
    assert_tickers(&out, &env, &src);

    // Fully joined: BTCUSDT has all three sources.
    let btc = record(&out, "BTCUSDT").unwrap();
    assert!(btc.last.is_some() && btc.bid.is_some() && btc.mark.is_some());
    // Delivery contracts and delisted symbols are skipped, in one warning.
    let skipped: BTreeSet<&str> = src
        .day
        .keys()
        .chain(src.book.keys())
        .chain(src.premium.keys())
        .map(String::as_str)
        .filter(|s| !env.has(s))
        .collect();
    assert!(skipped.iter().any(|s| is_delivery(s)));
    assert!(skipped.contains("YFIIUSDT"));
    for s in &skipped {
        assert!(record(&out, s).is_none());
    }
    one_warning_naming(&out, skipped.len());
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn tickers_from_other_premium_index_fixtures() {
    let env = Env::universe();
    for premium in [PREMIUM_ALL_2020, PREMIUM_BTCUSDT] {
        let answers = table(&[
            (TAG_TICKER_24HR, ok(fixture(TICKER_24HR_ALL))),
            (TAG_BOOK_TICKER, ok(fixture(BOOK_TICKER_ALL))),
            (TAG_PREMIUM_INDEX, ok(fixture(premium))),
        ]);
        let out = run(KIND_TICKERS, &env, by_tag(&answers));
        assert!(out.errors.is_empty(), "{premium}: {:?}", out.errors);
        let src = TickerSources {
            day: by_symbol(rows(TICKER_24HR_ALL)),
            book: by_symbol(rows(BOOK_TICKER_ALL)),
            premium: by_symbol(rows(premium)),
        };
        assert_tickers(&out, &env, &src);
    }
}

#[test]
fn tickers_with_a_source_missing_from_the_round_still_emit_partial_records() {
    let env = Env::universe();
    let all = [
        (TAG_TICKER_24HR, TICKER_24HR_ALL),
        (TAG_BOOK_TICKER, BOOK_TICKER_ALL),
        (TAG_PREMIUM_INDEX, PREMIUM_ALL),
    ];
    for (missing, _) in all {
        let answers: BTreeMap<String, (u16, Vec<u8>)> = all
            .iter()
            .filter(|(tag, _)| *tag != missing)
            .map(|(tag, file)| ((*tag).to_owned(), ok(fixture(file))))
            .collect();
        let out = run(KIND_TICKERS, &env, by_tag(&answers));
        assert!(out.errors.is_empty(), "{missing}: {:?}", out.errors);
        let source = |tag: &str, file: &str| {
            if tag == missing {
                BTreeMap::new()
            } else {
                by_symbol(rows(file))
            }
        };
        let src = TickerSources {
            day: source(TAG_TICKER_24HR, TICKER_24HR_ALL),
            book: source(TAG_BOOK_TICKER, BOOK_TICKER_ALL),
            premium: source(TAG_PREMIUM_INDEX, PREMIUM_ALL),
        };
        assert!(!out.records.is_empty(), "{missing}");
        assert_tickers(&out, &env, &src);
    }
}

// --- funding -----------------------------------------------------------------------------------

/// Checks every funding record: premiumIndex fields from `premium` (when it answered) and the
/// interval/cap/floor from `info` (`None`: fundingInfo failed or is absent).
fn assert_funding(
    out: &ParseOutput,
    env: &Env,
    premium: Option<&BTreeMap<String, Value>>,
    info: Option<&BTreeMap<String, Value>>,
) {
    let expected: BTreeSet<&str> = match (premium, info) {
        (Some(p), _) => p
            .keys()
            .map(String::as_str)
            .filter(|s| env.has(s))
            .collect(),
        (None, Some(_)) => env
            .instruments
            .iter()
            .map(|r| r.raw_symbol.as_str())
            .collect(),
        (None, None) => BTreeSet::new(),
    };
    let got: BTreeSet<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(got, expected);
    for r in out.records.iter() {
        let symbol = r.raw_symbol.as_str();
        assert_eq!(r.kind, RecordKind::FUNDING);
        assert_eq!(r.symbol, env.ctx().instrument(symbol).unwrap().symbol);
        let row = premium.and_then(|p| p.get(symbol));
        let next = row.and_then(|p| ts(p, "nextFundingTime"));
        let rate = row
            .and_then(|p| num(p, "lastFundingRate"))
            .filter(|rate| !(next.is_none() && *rate == 0.0));
        assert_eq!(opt(&r.rate), rate, "{symbol} rate");
        assert_eq!(opt(&r.next_funding_ts), next, "{symbol}");
        assert_eq!(
            opt(&r.mark),
            row.and_then(|p| num(p, "markPrice")),
            "{symbol}"
        );
        assert_eq!(
            opt(&r.index),
            row.and_then(|p| num(p, "indexPrice")),
            "{symbol}"
        );
        assert_eq!(
            opt(&r.exchange_ts),
            row.and_then(|p| ts(p, "time")),
            "{symbol}"
        );
        assert_eq!(opt(&r.predicted_rate), None);
        assert_eq!(opt(&r.rate_8h), None, "host computes rate_8h");
        assert_eq!(
            opt(&r.rate_annualized),
            None,
            "host computes rate_annualized"
        );
        for v in [
            &r.last,
            &r.bid,
            &r.ask,
            &r.volume_24h_base,
            &r.open_interest_base,
        ] {
            assert_eq!(opt(v), None);
        }
        match info {
            None => {
                assert_eq!(opt(&r.interval_hours), None, "{symbol}");
                assert_eq!(opt(&r.interval_source), None, "{symbol}");
                assert_eq!(opt(&r.rate_cap), None);
                assert_eq!(opt(&r.rate_floor), None);
            }
            Some(info) => match info.get(symbol) {
                Some(listed) => {
                    assert_eq!(
                        opt(&r.interval_hours),
                        num(listed, "fundingIntervalHours"),
                        "{symbol}"
                    );
                    assert_eq!(opt(&r.interval_source), Some(IntervalSource::REPORTED));
                    assert_eq!(opt(&r.rate_cap), num(listed, "adjustedFundingRateCap"));
                    assert_eq!(opt(&r.rate_floor), num(listed, "adjustedFundingRateFloor"));
                }
                None => {
                    assert_eq!(opt(&r.interval_hours), Some(8.0), "{symbol}");
                    assert_eq!(opt(&r.interval_source), Some(IntervalSource::DEFAULT));
                    assert_eq!(opt(&r.rate_cap), None);
                    assert_eq!(opt(&r.rate_floor), None);
                }
            },
        }
    }
}

#[test]
fn funding_from_premium_index_and_funding_info() {
    let env = Env::universe();
    let answers = table(&[
        (TAG_PREMIUM_INDEX, ok(fixture(PREMIUM_ALL))),
        (TAG_FUNDING_INFO, ok(fixture(FUNDING_INFO))),
    ]);
    let out = run(KIND_FUNDING, &env, by_tag(&answers));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let premium = by_symbol(rows(PREMIUM_ALL));
    let info = by_symbol(rows(FUNDING_INFO));
    assert_funding(&out, &env, Some(&premium), Some(&info));

    // Both interval sources occur, and a 4h symbol is reported as 4h.
    let lpt = record(&out, "LPTUSDT").unwrap();
    assert_eq!(opt(&lpt.interval_hours), Some(4.0));
    assert_eq!(opt(&lpt.interval_source), Some(IntervalSource::REPORTED));
    let btc = record(&out, "BTCUSDT").unwrap();
    assert_eq!(opt(&btc.interval_source), Some(IntervalSource::DEFAULT));
    // A live perpetual with a genuine 0 rate (BTC-quoted, interest rate 0) keeps its 0.
    let bnbbtc = record(&out, "BNBBTC").unwrap();
    assert_eq!(opt(&bnbbtc.rate), Some(0.0));
    assert!(bnbbtc.next_funding_ts.is_some());
    // received_ts: the later of the two responses that built the record.
    let latest = received_ts(request_index(KIND_FUNDING, &env, TAG_FUNDING_INFO)).max(received_ts(
        request_index(KIND_FUNDING, &env, TAG_PREMIUM_INDEX),
    ));
    assert!(out.records.iter().all(|r| r.received_ts == latest));
    // Delivery contracts: skipped, one warning.
    let delivery = premium.keys().filter(|s| is_delivery(s)).count();
    assert!(delivery > 0);
    assert!(premium
        .keys()
        .filter(|s| is_delivery(s))
        .all(|s| record(&out, s).is_none()));
    one_warning_naming(&out, delivery);
}

#[test]
fn funding_from_older_and_single_symbol_premium_index() {
    let env = Env::universe();
    let info = by_symbol(rows(FUNDING_INFO));
    for premium in [PREMIUM_ALL_2020, PREMIUM_BTCUSDT] {
        let answers = table(&[
            (TAG_PREMIUM_INDEX, ok(fixture(premium))),
            (TAG_FUNDING_INFO, ok(fixture(FUNDING_INFO))),
        ]);
        let out = run(KIND_FUNDING, &env, by_tag(&answers));
        assert!(out.errors.is_empty(), "{premium}: {:?}", out.errors);
        assert!(out.warnings.is_empty(), "{premium}: {:?}", out.warnings);
        let rows = by_symbol(rows(premium));
        assert_eq!(out.records.len(), rows.len(), "{premium}");
        assert_funding(&out, &env, Some(&rows), Some(&info));
    }
}

#[test]
fn funding_without_funding_info_leaves_the_interval_unknown() {
    let env = Env::universe();
    let premium = by_symbol(rows(PREMIUM_ALL));
    let failures: &[Option<(u16, &str)>] = &[
        None, // missing from the round
        Some((
            400,
            r#"{"code":-1000,"msg":"An unknown error occured while processing the request."}"#,
        )),
        Some((200, "<html><body>oops</body></html>")),
    ];
    for failure in failures {
        let mut entries = vec![(TAG_PREMIUM_INDEX, ok(fixture(PREMIUM_ALL)))];
        if let Some((status, body)) = failure {
            entries.push((TAG_FUNDING_INFO, (*status, body.as_bytes().to_vec())));
        }
        let out = run(KIND_FUNDING, &env, by_tag(&table(&entries)));
        assert_funding(&out, &env, Some(&premium), None);
        match failure {
            None => assert!(out.errors.is_empty()),
            Some(_) => {
                assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
                assert_eq!(out.errors[0].request_tag.as_str(), TAG_FUNDING_INFO);
            }
        }
    }
}

#[test]
fn funding_without_premium_index_still_refreshes_intervals() {
    let env = Env::universe();
    let info = by_symbol(rows(FUNDING_INFO));
    let answers = table(&[
        (
            TAG_PREMIUM_INDEX,
            (200, b"[{\"symbol\":\"BTCUSDT\",\"markPr".to_vec()),
        ),
        (TAG_FUNDING_INFO, ok(fixture(FUNDING_INFO))),
    ]);
    let out = run(KIND_FUNDING, &env, by_tag(&answers));
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
    assert_eq!(out.errors[0].request_tag.as_str(), TAG_PREMIUM_INDEX);
    assert_funding(&out, &env, None, Some(&info));
    assert_eq!(out.records.len(), env.instruments.len());
}

#[test]
fn funding_missing_values_are_none_never_zero() {
    let env = Env::universe();
    // The real premium-index-all body with three rows edited: an empty rate, a perpetual with no
    // next funding time and a zero rate (Binance's "no funding"), and a row without a mark price.
    let mut body: Value = serde_json::from_slice(&fixture(PREMIUM_ALL)).unwrap();
    for row in body.as_array_mut().unwrap() {
        match row["symbol"].as_str().unwrap() {
            "BTCUSDT" => row["lastFundingRate"] = json!(""),
            "ETHUSDT" => {
                row["lastFundingRate"] = json!("0.00000000");
                row["nextFundingTime"] = json!(0);
            }
            "SOLUSDT" => {
                row.as_object_mut().unwrap().remove("markPrice");
                row["indexPrice"] = Value::Null;
            }
            _ => {}
        }
    }
    let answers = table(&[
        (TAG_PREMIUM_INDEX, ok(serde_json::to_vec(&body).unwrap())),
        (TAG_FUNDING_INFO, ok(fixture(FUNDING_INFO))),
    ]);
    let out = run(KIND_FUNDING, &env, by_tag(&answers));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let btc = record(&out, "BTCUSDT").unwrap();
    assert_eq!(opt(&btc.rate), None);
    assert!(btc.next_funding_ts.is_some() && btc.mark.is_some());
    let eth = record(&out, "ETHUSDT").unwrap();
    assert_eq!(opt(&eth.rate), None);
    assert_eq!(opt(&eth.next_funding_ts), None);
    let sol = record(&out, "SOLUSDT").unwrap();
    assert_eq!(opt(&sol.mark), None);
    assert_eq!(opt(&sol.index), None);
    assert!(sol.rate.is_some());
    let edited = by_symbol(body.as_array().unwrap().clone());
    let info = by_symbol(rows(FUNDING_INFO));
    assert_funding(&out, &env, Some(&edited), Some(&info));
}

// --- open interest -----------------------------------------------------------------------------

/// A docs-shaped `GET /fapi/v1/openInterest` body (Binance "Open Interest" response example).
fn oi_body(symbol: &str, open_interest: &str, time: i64) -> Vec<u8> {
    format!(r#"{{"openInterest":"{open_interest}","symbol":"{symbol}","time":{time}}}"#)
        .into_bytes()
}

fn oi_answers(premium: &str) -> BTreeMap<String, (u16, Vec<u8>)> {
    table(&[
        ("oi:BTCUSDT", ok(fixture(OPEN_INTEREST_BTCUSDT))),
        (
            "oi:BTCUSDC",
            ok(oi_body("BTCUSDC", "1234.567", 1_732_715_650_000)),
        ),
        (
            "oi:ETHUSDT",
            (400, br#"{"code":-1121,"msg":"Invalid symbol."}"#.to_vec()),
        ),
        (
            "oi:XAUUSDT",
            ok(oi_body("XAUUSDT", "12.5", 1_732_715_651_000)),
        ),
        (TAG_PREMIUM_INDEX, ok(fixture(premium))),
    ])
}

#[test]
fn open_interest_in_base_and_quote_at_mark() {
    let env = Env::docs();
    let oi_fixture = rows(OPEN_INTEREST_BTCUSDT).remove(0);
    for premium in [PREMIUM_ALL, PREMIUM_BTCUSDT] {
        let marks = by_symbol(rows(premium));
        let out = run(KIND_OPEN_INTEREST, &env, by_tag(&oi_answers(premium)));

        // The invalid symbol fails alone, permanently, under its own tag.
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
        let e = &out.errors[0];
        assert_eq!(e.class, ErrorClass::PERMANENT);
        assert_eq!(e.code.as_str(), "-1121");
        assert_eq!(e.request_tag.as_str(), "oi:ETHUSDT");
        assert!(record(&out, "ETHUSDT").is_none());

        let got: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
        assert_eq!(got, ["BTCUSDC", "BTCUSDT", "XAUUSDT"], "{premium}");
        let inline = |s: &str, oi: &str, t: i64| -> Value {
            serde_json::from_slice(&oi_body(s, oi, t)).unwrap()
        };
        let sources = [
            ("BTCUSDT", oi_fixture.clone()),
            ("BTCUSDC", inline("BTCUSDC", "1234.567", 1_732_715_650_000)),
            ("XAUUSDT", inline("XAUUSDT", "12.5", 1_732_715_651_000)),
        ];
        for (symbol, src) in sources {
            let r = record(&out, symbol).unwrap();
            assert_eq!(r.kind, RecordKind::TICKER);
            let base = num(&src, "openInterest").unwrap();
            assert_eq!(opt(&r.open_interest_base), Some(base), "{symbol}");
            let mark = marks.get(symbol).and_then(|p| num(p, "markPrice"));
            assert_eq!(
                opt(&r.open_interest_quote),
                mark.map(|m| base * m),
                "{premium} {symbol}: quote = base × mark"
            );
            assert_eq!(opt(&r.exchange_ts), ts(&src, "time"));
            for v in [
                &r.last,
                &r.bid,
                &r.ask,
                &r.mark,
                &r.index,
                &r.volume_24h_base,
            ] {
                assert_eq!(opt(v), None, "{symbol}: other ticker fields stay unset");
            }
            assert_ticker_only_fields_untouched(r);
        }
        // BTCUSDT has a mark in both premium fixtures; XAUUSDT in neither.
        assert!(record(&out, "BTCUSDT")
            .unwrap()
            .open_interest_quote
            .is_some());
        assert!(record(&out, "XAUUSDT")
            .unwrap()
            .open_interest_quote
            .is_none());
    }
}

#[test]
fn open_interest_without_premium_index_has_no_quote_value() {
    let env = Env::docs();
    let mut answers = oi_answers(PREMIUM_ALL);
    answers.insert(
        TAG_PREMIUM_INDEX.to_owned(),
        (
            429,
            br#"{"code":-1003,"msg":"Too many requests."}"#.to_vec(),
        ),
    );
    let out = run(KIND_OPEN_INTEREST, &env, by_tag(&answers));
    let classes: BTreeSet<(&str, &str)> = out
        .errors
        .iter()
        .map(|e| (e.request_tag.as_str(), e.class.as_str()))
        .collect();
    assert_eq!(
        classes,
        BTreeSet::from([
            ("oi:ETHUSDT", ErrorClass::PERMANENT.as_str()),
            (TAG_PREMIUM_INDEX, ErrorClass::RATE_LIMITED.as_str())
        ])
    );
    let btc = record(&out, "BTCUSDT").unwrap();
    let want = num(&rows(OPEN_INTEREST_BTCUSDT)[0], "openInterest");
    assert_eq!(opt(&btc.open_interest_base), want);
    assert_eq!(opt(&btc.open_interest_quote), None);
}

#[test]
fn open_interest_for_symbols_outside_ctx_is_skipped_with_one_warning() {
    let env = Env::docs();
    let ctx = env.ctx();
    let requests = [
        HttpRequest::get("/fapi/v1/openInterest", "oi:BTCUSDT").query("symbol", "BTCUSDT"),
        HttpRequest::get("/fapi/v1/openInterest", "oi:ETHUSDT_250328")
            .query("symbol", "ETHUSDT_250328"),
        HttpRequest::get("/fapi/v1/openInterest", "oi:NOPEUSDT").query("symbol", "NOPEUSDT"),
        HttpRequest::get("/fapi/v1/somethingElse", "mystery"),
    ];
    let bodies = [
        fixture(OPEN_INTEREST_BTCUSDT),
        oi_body("ETHUSDT_250328", "5", 1),
        oi_body("NOPEUSDT", "7", 1),
        b"{}".to_vec(),
    ];
    let responses: Vec<HttpResponse<'_>> = requests
        .iter()
        .zip(&bodies)
        .map(|(request, body)| HttpResponse {
            request,
            status: 200,
            headers: RSlice::from_slice(&[]),
            body: RSlice::from_slice(body),
            received_ts: NOW,
        })
        .collect();
    let out = parse(KIND_OPEN_INTEREST, &responses, &ctx);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].raw_symbol.as_str(), "BTCUSDT");
    one_warning_naming(&out, 2);
    assert!(out.warnings.iter().any(|w| w.contains("mystery")));
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
}

// --- malformed input, per kind and per response of its round -----------------------------------

/// `(status, body, class, code)`; a body of `"TRUNCATE"` stands for the first half of the good
/// body of that response.
const BAD: &[(u16, &str, ErrorClass, &str)] = &[
    (200, "", ErrorClass::PARSE, ""),
    (200, "  \n ", ErrorClass::PARSE, ""),
    (
        200,
        "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
        ErrorClass::PARSE,
        "",
    ),
    (200, "TRUNCATE", ErrorClass::PARSE, ""),
    (200, "{}", ErrorClass::PARSE, ""),
    (200, r#"[{"foo":1},{"bar":"x"}]"#, ErrorClass::PARSE, ""),
    (200, r#"[["BTCUSDT","1.0"]]"#, ErrorClass::PARSE, ""),
    (200, "[1,2,3]", ErrorClass::PARSE, ""),
    (200, "null", ErrorClass::PARSE, ""),
    (200, r#""ok""#, ErrorClass::PARSE, ""),
    (200, "Service Unavailable", ErrorClass::PARSE, ""),
    (
        400,
        r#"{"code":-1121,"msg":"Invalid symbol."}"#,
        ErrorClass::PERMANENT,
        "-1121",
    ),
    (
        400,
        r#"{"code":-1100,"msg":"Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."}"#,
        ErrorClass::PERMANENT,
        "-1100",
    ),
    (
        400,
        r#"{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}"#,
        ErrorClass::PERMANENT,
        "-1102",
    ),
    (
        400,
        r#"{"code":-4164,"msg":"Order's notional must be no smaller than 100."}"#,
        ErrorClass::PERMANENT,
        "-4164",
    ),
    (
        429,
        r#"{"code":-1003,"msg":"Too many requests; current limit is 2400 requests per minute."}"#,
        ErrorClass::RATE_LIMITED,
        "-1003",
    ),
    (
        200,
        r#"{"code":-1003,"msg":"Too much request weight used."}"#,
        ErrorClass::RATE_LIMITED,
        "-1003",
    ),
    (
        400,
        r#"{"code":-1000,"msg":"An unknown error occured while processing the request."}"#,
        ErrorClass::TRANSIENT,
        "-1000",
    ),
    (
        400,
        r#"{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}"#,
        ErrorClass::TRANSIENT,
        "-1001",
    ),
    (
        400,
        r#"{"code":-1006,"msg":"An unexpected response was received from the message bus."}"#,
        ErrorClass::TRANSIENT,
        "-1006",
    ),
    (
        408,
        r#"{"code":-1007,"msg":"Timeout waiting for response from backend server."}"#,
        ErrorClass::TRANSIENT,
        "-1007",
    ),
    (
        200,
        r#"{"code":-1008,"msg":"Server is currently overloaded with other requests. Please try again in a few minutes."}"#,
        ErrorClass::TRANSIENT,
        "-1008",
    ),
    (400, "Bad Request", ErrorClass::PERMANENT, ""),
    (400, "", ErrorClass::PERMANENT, ""),
    (
        404,
        "<html><body>Not Found</body></html>",
        ErrorClass::PERMANENT,
        "",
    ),
    (
        403,
        "<html><body>403 Forbidden</body></html>",
        ErrorClass::RATE_LIMITED,
        "",
    ),
];

/// Good answers for every response of every kind's round (OI over [`Env::docs`]).
fn good_answers(kind: &str) -> BTreeMap<String, (u16, Vec<u8>)> {
    match kind {
        KIND_INSTRUMENTS => table(&[(TAG_EXCHANGE_INFO, ok(EXCHANGE_INFO_DOCS.into()))]),
        KIND_TICKERS => table(&[
            (TAG_TICKER_24HR, ok(fixture(TICKER_24HR_ALL))),
            (TAG_BOOK_TICKER, ok(fixture(BOOK_TICKER_ALL))),
            (TAG_PREMIUM_INDEX, ok(fixture(PREMIUM_ALL))),
        ]),
        KIND_FUNDING => table(&[
            (TAG_PREMIUM_INDEX, ok(fixture(PREMIUM_ALL))),
            (TAG_FUNDING_INFO, ok(fixture(FUNDING_INFO))),
        ]),
        KIND_OPEN_INTEREST => {
            let mut answers = oi_answers(PREMIUM_ALL);
            answers.insert("oi:ETHUSDT".into(), ok(oi_body("ETHUSDT", "99.5", 1)));
            answers
        }
        other => panic!("no answers for {other}"),
    }
}

#[test]
fn malformed_responses_are_classified_per_tag_and_never_sink_the_round() {
    let universe = Env::universe();
    let docs = Env::docs();
    let kinds = [
        (KIND_INSTRUMENTS, &universe),
        (KIND_TICKERS, &universe),
        (KIND_FUNDING, &universe),
        (KIND_OPEN_INTEREST, &docs),
    ];
    let mut combinations = 0;
    for (kind, env) in kinds {
        let good = good_answers(kind);
        // Sanity: the good round parses cleanly.
        let clean = run(kind, env, by_tag(&good));
        assert!(clean.errors.is_empty(), "{kind}: {:?}", clean.errors);
        assert!(!clean.records.is_empty(), "{kind}");

        for target in good.keys() {
            for (status, body, class, code) in BAD {
                combinations += 1;
                let body = if *body == "TRUNCATE" {
                    let good_body = &good[target].1;
                    good_body[..good_body.len() / 2].to_vec()
                } else {
                    body.as_bytes().to_vec()
                };
                let mut answers = good.clone();
                answers.insert(target.clone(), (*status, body.clone()));
                let out = run(kind, env, by_tag(&answers));
                let case = format!(
                    "{kind} / {target} / HTTP {status} {:?}",
                    String::from_utf8_lossy(&body)
                );

                assert_eq!(out.errors.len(), 1, "{case}: {:?}", out.errors);
                let e = &out.errors[0];
                assert_eq!(e.class, *class, "{case}: {e}");
                assert_eq!(e.code.as_str(), *code, "{case}");
                assert_eq!(e.request_tag.as_str(), target.as_str(), "{case}");
                assert!(!e.message.is_empty(), "{case}");
                if *class == ErrorClass::RATE_LIMITED {
                    assert!(e.retry_after_ms.is_none(), "{case}: no hint was given");
                }
                if kind == KIND_INSTRUMENTS {
                    assert!(out.records.is_empty(), "{case}");
                } else {
                    assert!(
                        !out.records.is_empty(),
                        "{case}: other responses still count"
                    );
                }
            }
        }
    }
    assert!(combinations > 200, "{combinations}");
}

#[test]
fn rate_limit_hint_comes_from_retry_after_header() {
    let env = Env::universe();
    let ctx = env.ctx();
    let requests = build_requests(KIND_TICKERS, &ctx).unwrap();
    let headers = [KeyValueRef {
        key: "retry-after".into(),
        value: "30".into(),
    }];
    let limited = br#"{"code":-1003,"msg":"Too many requests."}"#;
    let premium = fixture(PREMIUM_ALL);
    let responses: Vec<HttpResponse<'_>> = requests
        .iter()
        .map(|request| {
            let (headers, body): (&[KeyValueRef<'_>], &[u8]) =
                if request.tag.as_str() == TAG_PREMIUM_INDEX {
                    (&[], &premium)
                } else {
                    (&headers, limited)
                };
            HttpResponse {
                request,
                status: 429,
                headers: RSlice::from_slice(headers),
                body: RSlice::from_slice(body),
                received_ts: NOW,
            }
        })
        .collect();
    let out = parse(KIND_TICKERS, &responses, &ctx);
    // premiumIndex carries a real data body under 429: the status alone makes it an error (only
    // 2xx bodies are data), and without a header there is no hint.
    assert_eq!(out.errors.len(), 3, "{:?}", out.errors);
    for e in out.errors.iter() {
        assert_eq!(e.class, ErrorClass::RATE_LIMITED);
        if e.request_tag.as_str() == TAG_PREMIUM_INDEX {
            assert_eq!(e.retry_after_ms.into_option(), None);
        } else {
            assert_eq!(e.retry_after_ms.into_option(), Some(30_000), "{e}");
        }
    }
    assert!(out.records.is_empty());
}

#[test]
fn repeated_and_unexpected_tags_are_ignored_with_a_warning() {
    let env = Env::universe();
    let ctx = env.ctx();
    let mut requests = build_requests(KIND_FUNDING, &ctx).unwrap();
    requests.push(HttpRequest::get("/fapi/v1/premiumIndex", TAG_PREMIUM_INDEX));
    requests.push(HttpRequest::get("/fapi/v1/ticker/24hr", TAG_TICKER_24HR));
    let premium = fixture(PREMIUM_ALL);
    let info = fixture(FUNDING_INFO);
    let garbage = b"<html>".to_vec();
    let responses: Vec<HttpResponse<'_>> = requests
        .iter()
        .enumerate()
        .map(|(i, request)| {
            let body = match (i, request.tag.as_str()) {
                (_, TAG_FUNDING_INFO) => &info,
                (0, _) => &premium,
                _ => &garbage, // the repeated premiumIndex and the stray 24hr: never read
            };
            HttpResponse {
                request,
                status: 200,
                headers: RSlice::from_slice(&[]),
                body: RSlice::from_slice(body),
                received_ts: NOW,
            }
        })
        .collect();
    let out = parse(KIND_FUNDING, &responses, &ctx);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(!out.records.is_empty());
    let ignored: Vec<_> = out
        .warnings
        .iter()
        .filter(|w| w.contains("ignored"))
        .collect();
    assert_eq!(ignored.len(), 1, "{:?}", out.warnings);
    assert!(ignored[0].contains("ignored 2 response"), "{}", ignored[0]);
}

#[test]
fn empty_round_gives_nothing_and_no_panic() {
    let env = Env::universe();
    for kind in [
        KIND_INSTRUMENTS,
        KIND_TICKERS,
        KIND_FUNDING,
        KIND_OPEN_INTEREST,
    ] {
        let out = parse(kind, &[], &env.ctx());
        assert!(out.records.is_empty() && out.errors.is_empty(), "{kind}");
    }
}

// --- through the exported ABI ------------------------------------------------------------------

#[test]
fn exported_root_module_runs_a_tickers_round() {
    let module = fc_plugin_binance::futures_collector_root_module();
    let info = module.info()().unwrap();
    assert_eq!(info.exchange_id.as_str(), "binance");
    assert_eq!(
        info.interface_version.as_str(),
        plugin_api::INTERFACE_VERSION
    );

    let env = Env::universe();
    let ctx = env.ctx();
    let requests = module.build_requests()(RStr::from("tickers"), &ctx).unwrap();
    assert_eq!(requests.len(), 3);
    let bodies: Vec<Vec<u8>> = requests
        .iter()
        .map(|r| match r.tag.as_str() {
            TAG_TICKER_24HR => fixture(TICKER_24HR_ALL),
            TAG_BOOK_TICKER => fixture(BOOK_TICKER_ALL),
            _ => fixture(PREMIUM_ALL),
        })
        .collect();
    let responses: Vec<HttpResponse<'_>> = requests
        .iter()
        .zip(&bodies)
        .map(|(request, body)| HttpResponse {
            request,
            status: 200,
            headers: RSlice::from_slice(&[]),
            body: RSlice::from_slice(body),
            received_ts: NOW,
        })
        .collect();
    let out = module.parse()(RStr::from("tickers"), RSlice::from_slice(&responses), &ctx);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let direct = parse(KIND_TICKERS, &responses, &ctx);
    assert_eq!(out, direct);

    let e = module.build_requests()(RStr::from("nope"), &ctx).unwrap_err();
    assert_eq!(e.class, ErrorClass::PERMANENT);
}
