//! Benchmark (not a test): how long the emulator takes to build its largest bodies. They are
//! generated per request, so they must stay cheap (goal: well under 5 ms each, release build).
//! Run: `cargo bench -p exchange-emulator --bench body_speed`.

use std::time::{Duration, Instant};

use exchange_emulator::{
    exchanges::{now_ms, respond, Query, Venue},
    EmulatorConfig,
};

fn main() {
    let paths = [
        ("binance", "/fapi/v1/ticker/24hr", ""),
        ("binance", "/fapi/v1/premiumIndex", ""),
        ("binance", "/fapi/v1/exchangeInfo", ""),
        ("bybit", "/v5/market/tickers", "category=linear"),
        ("okx", "/api/v5/public/funding-rate", "instId=ANY"),
        ("okx", "/api/v5/market/tickers", "instType=SWAP"),
    ];
    let venues: Vec<Venue> = EmulatorConfig::default_three()
        .instances
        .into_iter()
        .map(Venue::new)
        .collect();
    for (name, path, query) in paths {
        let venue = venues.iter().find(|v| v.cfg.name == name).unwrap();
        let query = Query::parse(Some(query));
        let mut best = Duration::MAX;
        let mut size = 0;
        for i in 0..20 {
            let started = Instant::now();
            let answer = respond(venue, "GET", path, &query, now_ms() + i * 1000);
            best = best.min(started.elapsed());
            assert_eq!(answer.status, 200);
            size = answer.body.len();
        }
        println!("{name}{path}: {size} bytes in {best:?}");
    }
}
