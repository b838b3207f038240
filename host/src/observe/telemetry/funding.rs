//! The cross-exchange funding table: the latest funding rate of every symbol on every exchange,
//! and rows sorted by the widest spread of annualized rates — what users of a funding feed
//! look at first.
//!
//! Owns the table and its bounds (symbols, age). Must not compute rates: the record store
//! normalizes them (`rate_8h`, `rate_annualized`); this module only compares them.

use std::collections::BTreeMap;

use plugin_api::{Record, RecordKind};
use serde::Serialize;

/// Most symbols kept; new symbols beyond it are ignored until old ones age out.
pub const MAX_FUNDING_SYMBOLS: usize = 5_000;
/// A rate not refreshed for this long is dropped (a delisted instrument, a dead exchange).
pub const FUNDING_ENTRY_MAX_AGE_MS: i64 = 15 * 60 * 1000;
/// Rows `/api/funding` returns when no `limit` is given.
pub const DEFAULT_FUNDING_ROWS: usize = 100;

/// One exchange's latest funding for one symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FundingCell {
    /// Rate of the current period (fraction).
    pub rate: Option<f64>,
    /// Rate × periods per year (fraction: 0.10 = 10 % a year).
    pub annualized: Option<f64>,
    pub interval_hours: Option<f64>,
    pub next_funding_ts: Option<i64>,
    /// Unix ms when the collector last saw it.
    pub updated_ms: i64,
}

/// One row: a symbol on every exchange that lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FundingRow {
    pub symbol: String,
    pub rates: BTreeMap<String, FundingCell>,
    /// Highest minus lowest annualized rate (needs two exchanges).
    pub spread: Option<f64>,
    /// Exchange with the highest annualized rate (receives funding when short there).
    pub highest: Option<String>,
    /// Exchange with the lowest annualized rate.
    pub lowest: Option<String>,
}

/// The whole table.
#[derive(Debug, Clone, Default)]
pub struct FundingTable {
    by_symbol: BTreeMap<String, BTreeMap<String, FundingCell>>,
}

impl FundingTable {
    /// Takes the funding records of one exchange's cycle (others are ignored).
    pub fn update(&mut self, exchange: &str, records: &[Record], now_ms: i64) {
        for r in records.iter().filter(|r| r.kind == RecordKind::FUNDING) {
            let cell = FundingCell {
                rate: r.rate.into_option(),
                annualized: r.rate_annualized.into_option(),
                interval_hours: r.interval_hours.into_option(),
                next_funding_ts: r.next_funding_ts.into_option(),
                updated_ms: now_ms,
            };
            if cell.rate.is_none() && cell.annualized.is_none() {
                continue;
            }
            let symbol = r.symbol.as_str();
            // Known symbol and exchange (every cycle after the first): updated in place, no key
            // is allocated.
            if let Some(cells) = self.by_symbol.get_mut(symbol) {
                match cells.get_mut(exchange) {
                    Some(known) => *known = cell,
                    None => {
                        cells.insert(exchange.to_owned(), cell);
                    }
                }
                continue;
            }
            if self.by_symbol.len() >= MAX_FUNDING_SYMBOLS {
                self.expire(now_ms);
                if self.by_symbol.len() >= MAX_FUNDING_SYMBOLS {
                    continue;
                }
            }
            self.by_symbol
                .entry(symbol.to_owned())
                .or_default()
                .insert(exchange.to_owned(), cell);
        }
    }

    /// Drops an exchange's rates (it was removed from the config).
    pub fn forget_exchange(&mut self, exchange: &str) {
        for cells in self.by_symbol.values_mut() {
            cells.remove(exchange);
        }
        self.by_symbol.retain(|_, cells| !cells.is_empty());
    }

    fn expire(&mut self, now_ms: i64) {
        for cells in self.by_symbol.values_mut() {
            cells.retain(|_, c| now_ms - c.updated_ms <= FUNDING_ENTRY_MAX_AGE_MS);
        }
        self.by_symbol.retain(|_, cells| !cells.is_empty());
    }

    pub fn symbols(&self) -> usize {
        self.by_symbol.len()
    }

    /// Up to `limit` rows, widest spread first; rows on one exchange only come last, by symbol.
    pub fn rows(&mut self, now_ms: i64, limit: usize) -> Vec<FundingRow> {
        self.expire(now_ms);
        let mut rows: Vec<FundingRow> = self
            .by_symbol
            .iter()
            .map(|(symbol, cells)| {
                let mut highest: Option<(&String, f64)> = None;
                let mut lowest: Option<(&String, f64)> = None;
                let mut with_rate = 0;
                for (exchange, cell) in cells {
                    let Some(a) = cell.annualized.filter(|a| a.is_finite()) else {
                        continue;
                    };
                    with_rate += 1;
                    if highest.is_none_or(|(_, h)| a > h) {
                        highest = Some((exchange, a));
                    }
                    if lowest.is_none_or(|(_, l)| a < l) {
                        lowest = Some((exchange, a));
                    }
                }
                let spread = match (highest, lowest) {
                    (Some((_, h)), Some((_, l))) if with_rate >= 2 => Some(h - l),
                    _ => None,
                };
                FundingRow {
                    symbol: symbol.clone(),
                    rates: cells.clone(),
                    spread,
                    highest: spread.and(highest.map(|(e, _)| e.clone())),
                    lowest: spread.and(lowest.map(|(e, _)| e.clone())),
                }
            })
            .collect();
        rows.sort_by(|a, b| match (a.spread, b.spread) {
            (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.symbol.cmp(&b.symbol)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.symbol.cmp(&b.symbol),
        });
        rows.truncate(limit);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{abi_stable::std_types::ROption, MarketType};

    pub(crate) fn funding(exchange: &str, base: &str, annualized: f64) -> Record {
        let mut r = Record::new(
            RecordKind::FUNDING,
            exchange,
            &format!("{base}USDT"),
            base,
            "USDT",
            "USDT",
            MarketType::LINEAR_PERPETUAL,
            1,
        );
        r.rate = ROption::RSome(annualized / 1095.0);
        r.rate_annualized = ROption::RSome(annualized);
        r.interval_hours = ROption::RSome(8.0);
        r
    }

    #[test]
    fn widest_spread_first_single_exchange_last() {
        let mut t = FundingTable::default();
        t.update(
            "binance",
            &[
                funding("binance", "BTC", 0.10),
                funding("binance", "ETH", 0.05),
                funding("binance", "DOGE", 0.30),
            ],
            1_000,
        );
        t.update(
            "okx",
            &[funding("okx", "BTC", 0.12), funding("okx", "ETH", -0.20)],
            1_000,
        );
        let rows = t.rows(2_000, 10);
        let order: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
        assert_eq!(order, ["ETH/USDT:USDT", "BTC/USDT:USDT", "DOGE/USDT:USDT"]);
        assert!((rows[0].spread.unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(rows[0].highest.as_deref(), Some("binance"));
        assert_eq!(rows[0].lowest.as_deref(), Some("okx"));
        assert_eq!(rows[2].spread, None);
        assert_eq!(t.rows(2_000, 1).len(), 1);
    }

    #[test]
    fn old_rates_expire_and_exchanges_can_be_forgotten() {
        let mut t = FundingTable::default();
        t.update("a", &[funding("a", "BTC", 0.1)], 0);
        t.update("b", &[funding("b", "BTC", 0.2)], FUNDING_ENTRY_MAX_AGE_MS);
        assert_eq!(t.rows(FUNDING_ENTRY_MAX_AGE_MS, 10)[0].rates.len(), 2);
        let rows = t.rows(FUNDING_ENTRY_MAX_AGE_MS + 1, 10);
        assert_eq!(rows[0].rates.len(), 1, "a's rate aged out");
        t.forget_exchange("b");
        assert_eq!(t.symbols(), 0);
    }
}
