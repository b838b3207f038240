//! The emulated market: each instance's instrument universe and the values those instruments
//! show at any wall-clock time.
//!
//! Owns: universe composition (real names first, then synthetic `C0001`...; dated quarterlies,
//! USDC and inverse contracts, a few non-trading ones), per-instrument static parameters, and the
//! time → values function. Values are a pure function of (instrument, second): a multi-scale
//! value-noise "random walk" per underlying asset (shared by every instance, so BTC costs about
//! the same everywhere), re-sampled only on the seconds where the instrument "changes" (about
//! 30% of them, decided by a per-instrument hash). Nothing runs in the background and nothing is
//! stored per request.
//! Exchanges added later compose their universe in their own module (`exchanges::<name>::
//! compose`) from the `pub(crate)` building blocks here (`coins`, `make`, `apply_statuses`, ...).
//! Must not: format wire payloads (the exchange modules do) or read configuration beyond the
//! instance it is handed.

use std::collections::HashMap;

use crate::config::{ExchangeKind, InstanceConfig};

/// Probability that an instrument's values change in a given second.
pub const CHANGE_PROBABILITY: f64 = 0.3;
/// Binance's `deliveryDate` for perpetuals (2100-12-25T08:00Z).
pub const PERPETUAL_DELIVERY_MS: u64 = 4_133_404_800_000;

pub(crate) const HOUR_MS: u64 = 3_600_000;
pub(crate) const DAY_MS: u64 = 86_400_000;

/// Real underlyings: (coin, approximate USD price, liquidity tier 0 = BTC/ETH .. 2 = small).
const REAL_ASSETS: &[(&str, f64, u8)] = &[
    ("BTC", 95_000.0, 0),
    ("ETH", 3_400.0, 0),
    ("SOL", 190.0, 1),
    ("XRP", 2.3, 1),
    ("DOGE", 0.32, 1),
    ("BNB", 650.0, 1),
    ("ADA", 0.85, 1),
    ("TRX", 0.25, 1),
    ("AVAX", 35.0, 1),
    ("LINK", 20.0, 1),
    ("DOT", 6.5, 1),
    ("LTC", 100.0, 1),
    ("BCH", 450.0, 1),
    ("TON", 5.5, 2),
    ("SHIB", 0.000022, 1),
    ("PEPE", 0.000018, 1),
    ("UNI", 12.0, 2),
    ("NEAR", 5.5, 2),
    ("APT", 9.5, 2),
    ("ARB", 0.75, 2),
    ("OP", 1.9, 2),
    ("SUI", 3.8, 1),
    ("FIL", 5.2, 2),
    ("ATOM", 6.8, 2),
    ("ETC", 27.0, 2),
    ("INJ", 24.0, 2),
    ("AAVE", 300.0, 2),
    ("WIF", 2.2, 2),
    ("TIA", 5.5, 2),
    ("SEI", 0.45, 2),
    ("XLM", 0.4, 2),
    ("HBAR", 0.28, 2),
    ("ICP", 10.0, 2),
    ("RENDER", 7.0, 2),
    ("FET", 1.3, 2),
    ("STX", 1.7, 2),
    ("IMX", 1.4, 2),
    ("MKR", 1_600.0, 2),
    ("LDO", 1.8, 2),
    ("ALGO", 0.4, 2),
    ("VET", 0.045, 2),
    ("GRT", 0.22, 2),
    ("SAND", 0.6, 2),
    ("MANA", 0.55, 2),
    ("AXS", 7.0, 2),
    ("EOS", 0.8, 2),
    ("XTZ", 1.3, 2),
    ("THETA", 2.1, 2),
    ("FLOW", 0.8, 2),
    ("CRV", 0.9, 2),
    ("DYDX", 1.5, 2),
    ("GALA", 0.04, 2),
    ("ENS", 35.0, 2),
    ("JUP", 1.0, 2),
    ("PYTH", 0.4, 2),
    ("BONK", 0.00003, 2),
    ("FLOKI", 0.00019, 2),
    ("ONDO", 1.4, 2),
    ("ENA", 0.9, 2),
    ("WLD", 2.4, 2),
    ("ORDI", 38.0, 2),
    ("NOT", 0.007, 2),
    ("ZK", 0.17, 2),
    ("KAS", 0.15, 2),
];

/// What kind of contract an instrument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// Linear (USDT/USDC-margined) perpetual swap.
    Perpetual,
    /// Coin-margined perpetual (OKX `X-USD-SWAP`): contract value in USD, settled in the coin.
    InversePerpetual,
    /// Quarterly delivery contract; `next` is the second-nearest expiry.
    Quarterly { expiry_ms: u64, next: bool },
}

/// Listing state, mapped to each exchange's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Trading,
    /// Announced, not trading yet (Binance `PENDING_TRADING`, Bybit `PreLaunch`).
    PreLaunch,
    /// Being delisted (Binance `SETTLING`).
    Settling,
}

/// One listed instrument of one instance, with everything that does not change over time.
#[derive(Debug, Clone)]
pub struct Instrument {
    /// The exchange's own id: `BTCUSDT`, `BTCUSDT_261225`, `BTC-25DEC26`, `BTC-USDT-SWAP`.
    pub symbol: String,
    /// The exchange's base asset name (`1000PEPE` on Binance, `SHIB1000` on Bybit, `PEPE` on OKX).
    pub base: String,
    /// The underlying coin (`PEPE`).
    pub coin: String,
    /// `USDT`, `USDC` or `USD` (inverse).
    pub quote: &'static str,
    pub contract: Contract,
    pub status: Status,
    /// True for the named (non-synthetic) coins.
    pub real: bool,
    /// Index of the coin in the real-asset table (0 = BTC), or `usize::MAX` for synthetic ones.
    pub rank: usize,
    /// Per-instrument hash (instance seed × symbol).
    pub h: u64,
    /// Underlying asset key (coin name only): the shared market path.
    pub key: u64,
    /// Reference price in quote units (already × `mult`).
    pub level: f64,
    /// Units of the coin per unit of `base` (1000 for `1000PEPE`).
    pub mult: f64,
    /// Per-second log volatility of the market path.
    pub vol: f64,
    /// Price decimals: the tick is `10^-price_dp`.
    pub price_dp: u32,
    /// Quantity decimals: the lot step is `10^-qty_dp`.
    pub qty_dp: u32,
    /// OKX contract value (coin units for linear, USD for inverse); 1 elsewhere.
    pub ct_val: f64,
    /// OKX lot decimals (contracts).
    pub lot_dp: u32,
    /// Funding interval in hours (1, 4 or 8); 0 for dated contracts.
    pub funding_hours: u32,
    pub funding_cap: f64,
    pub funding_floor: f64,
    /// Binance: cap/floor differ from the default, so `fundingInfo` lists the symbol.
    pub cap_adjusted: bool,
    funding_base: f64,
    funding_amp: f64,
    /// OKX `method`: `next_period` (predicts `nextFundingRate`) instead of `current_period`.
    pub okx_next_period: bool,
    oi_usd: f64,
    vol_usd: f64,
    /// Listing time (Binance `onboardDate`, Bybit `launchTime`, OKX `listTime`).
    pub listed_ms: u64,
    /// Position in the exchange's numbering (OKX `instIdCode`).
    pub code: u64,
}

impl Instrument {
    /// Tick size as a number.
    pub fn tick(&self) -> f64 {
        pow10_neg(self.price_dp)
    }

    /// Lot step as a number.
    pub fn step(&self) -> f64 {
        pow10_neg(self.qty_dp)
    }

    /// Listed in the ticker/price endpoints (only trading instruments are).
    pub fn is_trading(&self) -> bool {
        self.status == Status::Trading
    }

    /// True for perpetual swaps (linear or inverse).
    pub fn is_perpetual(&self) -> bool {
        !matches!(self.contract, Contract::Quarterly { .. })
    }

    /// Interest component of funding per interval (Binance/OKX show 0.01% per 8 h).
    pub fn interest_rate(&self) -> f64 {
        if self.is_perpetual() {
            0.0001 * f64::from(self.funding_hours) / 8.0
        } else {
            0.0
        }
    }

    /// The second at or before `k` when the instrument last changed.
    fn effective_step(&self, k: u64) -> u64 {
        for back in 0..24 {
            let s = k.saturating_sub(back);
            if unit(h2(self.h ^ 0x5eed, s)) < CHANGE_PROBABILITY {
                return s;
            }
        }
        k.saturating_sub(24)
    }

    /// Spot-like price of the underlying (quote units, × mult) at second `t`.
    fn spot_at(&self, t: u64) -> f64 {
        self.level * market_log(self.key, self.vol, t).exp()
    }

    /// Funding rate estimate at second `t` (clamped to cap/floor).
    fn funding_at(&self, t: u64) -> f64 {
        let r = self.funding_base + self.funding_amp * smooth(self.h ^ 0xf0, t, 120);
        r.clamp(self.funding_floor, self.funding_cap)
    }

    fn round_price(&self, p: f64) -> f64 {
        round_to(p, self.price_dp).max(self.tick())
    }

    /// Everything the ticker/funding/open-interest endpoints show at `now_ms`.
    pub fn snapshot(&self, now_ms: u64) -> Snap {
        let k = now_ms / 1000;
        let ke = self.effective_step(k);
        let tick = self.tick();
        let spot = self.spot_at(ke);
        // A per-instance basis so the same coin differs slightly between exchanges.
        let local = spot * (1.0 + 0.0003 * smooth(self.h ^ 0xba, ke, 20));
        let (index, fair) = match self.contract {
            Contract::Quarterly { expiry_ms, .. } => {
                let days = expiry_ms.saturating_sub(ke * 1000) as f64 / DAY_MS as f64;
                (spot, local * (1.0 + 0.08 * days / 365.0))
            }
            _ => (spot * (1.0 + 0.0002 * smooth(self.h ^ 0x1d, ke, 7)), local),
        };
        let last = self.round_price(fair);
        let spread = if self.real {
            1.0
        } else {
            1.0 + (self.h % 3) as f64
        };
        let below = (h2(self.h ^ 0xb1, ke) & 1) as f64;
        let mut bid = round_to(last - below * tick, self.price_dp);
        if bid < tick {
            bid = tick;
        }
        let ask = round_to(bid + spread * tick, self.price_dp);
        let last = last.clamp(bid, ask);
        let mark = self.round_price(fair * (1.0 + 0.0002 * signed(h2(self.h ^ 0x3a, ke))));
        let est_settle = index * (1.0 + 0.0004 * smooth(self.h ^ 0xe5, ke, 30));

        let open = self.round_price(self.spot_at(ke.saturating_sub(86_400)) * (fair / spot));
        let prev_1h = self.round_price(self.spot_at(ke.saturating_sub(3_600)) * (fair / spot));
        let swing = 0.005 + 0.03 * unit(h2(self.h ^ 0x41, ke / 3_600));
        let high = round_to(
            open.max(last).max(prev_1h) * (1.0 + swing * 0.6),
            self.price_dp,
        );
        let low = self.round_price(open.min(last).min(prev_1h) * (1.0 - swing * 0.4));

        // USDT and USDC count as USD; OKX inverse turnover is reported in USD as well.
        let vol_quote = self.vol_usd * (1.0 + 0.3 * smooth(self.h ^ 0x7e, ke, 600));
        let vwap = (open + last) / 2.0;
        let vol_base = round_to(vol_quote / vwap, self.qty_dp);
        let oi_base = round_to(
            self.oi_usd / self.level * (1.0 + 0.1 * smooth(self.h ^ 0x01, ke, 300)),
            self.qty_dp,
        )
        .max(self.step());

        let notional = |salt: u64| {
            let usd = 500.0 * (1.0 + 99.0 * unit(h2(self.h ^ salt, ke)));
            round_to(usd / last, self.qty_dp).max(self.step())
        };

        let (funding_rate, prev_funding_rate, next_funding_ms) =
            if self.is_perpetual() && self.funding_hours > 0 {
                let interval = u64::from(self.funding_hours) * HOUR_MS;
                let next = (now_ms / interval + 1) * interval;
                let prev_start = (next - interval) / 1000;
                (
                    self.funding_at(ke),
                    self.funding_at(prev_start.saturating_sub(1)),
                    next,
                )
            } else {
                (0.0, 0.0, 0)
            };

        let per_sec = (self.vol_usd / 2_500.0 / 86_400.0).max(0.2);
        let last_id = 1_000_000 + (ke as f64 * per_sec) as u64 + (self.h % 1_000_000_000);
        let trades = (per_sec * 86_400.0) as u64;

        Snap {
            ts_ms: ke * 1000 + (h2(self.h ^ 0x75, ke) % 1000),
            last,
            bid,
            ask,
            bid_qty: notional(0xbb),
            ask_qty: notional(0xaa),
            last_qty: notional(0x11),
            mark,
            index,
            est_settle,
            open_24h: open,
            high_24h: high,
            low_24h: low,
            prev_1h,
            vol_base,
            vol_quote,
            oi_base,
            funding_rate,
            prev_funding_rate,
            next_funding_ms,
            trades_24h: trades,
            first_id: last_id.saturating_sub(trades),
            last_id,
        }
    }
}

/// One instrument's values at one moment. Prices are already rounded to the tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Snap {
    /// When these values were last updated (ms): moves only on the seconds the instrument changed.
    pub ts_ms: u64,
    pub last: f64,
    pub bid: f64,
    pub ask: f64,
    pub bid_qty: f64,
    pub ask_qty: f64,
    pub last_qty: f64,
    pub mark: f64,
    /// Index (spot) price, not rounded to the tick.
    pub index: f64,
    pub est_settle: f64,
    pub open_24h: f64,
    pub high_24h: f64,
    pub low_24h: f64,
    pub prev_1h: f64,
    /// 24 h volume in base units.
    pub vol_base: f64,
    /// 24 h turnover in quote units.
    pub vol_quote: f64,
    /// Open interest in base units.
    pub oi_base: f64,
    /// Funding rate of the current period (0 for dated contracts).
    pub funding_rate: f64,
    /// The rate settled at the start of the current period.
    pub prev_funding_rate: f64,
    /// End of the current funding period, aligned to the interval (0 for dated contracts).
    pub next_funding_ms: u64,
    pub trades_24h: u64,
    pub first_id: u64,
    pub last_id: u64,
}

/// An instance's universe.
#[derive(Debug)]
pub struct Universe {
    pub instruments: Vec<Instrument>,
    by_symbol: HashMap<String, usize>,
}

impl Universe {
    /// Builds the universe of `cfg` (expiries relative to `now_ms`).
    pub fn build(cfg: &InstanceConfig, now_ms: u64) -> Universe {
        let instruments = match cfg.exchange {
            ExchangeKind::Binance => compose_binance(cfg, now_ms),
            ExchangeKind::Bybit => compose_bybit(cfg, now_ms),
            ExchangeKind::Okx => compose_okx(cfg, now_ms),
            ExchangeKind::Bitget => crate::exchanges::bitget::compose(cfg, now_ms),
            ExchangeKind::Gate => crate::exchanges::gate::compose(cfg, now_ms),
            ExchangeKind::Hyperliquid => crate::exchanges::hyperliquid::compose(cfg, now_ms),
            ExchangeKind::Mexc => crate::exchanges::mexc::compose(cfg, now_ms),
            ExchangeKind::KucoinFutures => crate::exchanges::kucoinfutures::compose(cfg, now_ms),
            ExchangeKind::Htx => crate::exchanges::htx::compose(cfg, now_ms),
            ExchangeKind::Bitmex => crate::exchanges::bitmex::compose(cfg, now_ms),
            ExchangeKind::KrakenFutures => crate::exchanges::krakenfutures::compose(cfg, now_ms),
            ExchangeKind::Deribit => crate::exchanges::deribit::compose(cfg, now_ms),
            ExchangeKind::Dydx => crate::exchanges::dydx::compose(cfg, now_ms),
            ExchangeKind::Bingx => crate::exchanges::bingx::compose(cfg, now_ms),
        };
        let by_symbol = instruments
            .iter()
            .enumerate()
            .map(|(i, x)| (x.symbol.clone(), i))
            .collect();
        Universe {
            instruments,
            by_symbol,
        }
    }

    /// Looks an instrument up by the exchange's own id.
    pub fn get(&self, symbol: &str) -> Option<&Instrument> {
        self.by_symbol
            .get(symbol)
            .and_then(|&i| self.instruments.get(i))
    }

    /// Instruments shown by the ticker/price endpoints.
    pub fn trading(&self) -> impl Iterator<Item = &Instrument> {
        self.instruments.iter().filter(|i| i.is_trading())
    }
}

/// A coin to list: a real one (by rank) or a synthetic `C0001`.
#[derive(Clone)]
pub(crate) struct Coin {
    pub(crate) name: String,
    pub(crate) price: f64,
    pub(crate) tier: u8,
    pub(crate) rank: usize,
}

pub(crate) fn real_coin(rank: usize) -> Option<Coin> {
    REAL_ASSETS.get(rank).map(|&(name, price, tier)| Coin {
        name: name.to_string(),
        price,
        tier,
        rank,
    })
}

fn synthetic_coin(n: usize) -> Coin {
    let name = format!("C{n:04}");
    let hk = str_hash(&name);
    // Log-uniform between 0.001 and ~500 quote units.
    let price = 10f64.powf(unit(hk) * 5.7 - 3.0);
    Coin {
        name,
        price,
        tier: 3,
        rank: usize::MAX,
    }
}

/// `count` coins: the real ones first, then synthetic.
pub(crate) fn coins(count: usize) -> Vec<Coin> {
    (0..count)
        .map(|i| real_coin(i).unwrap_or_else(|| synthetic_coin(i - REAL_ASSETS.len() + 1)))
        .collect()
}

/// Coins whose small unit price gets a ×1000 contract on Binance/Bybit.
pub(crate) fn thousand_multiplied(coin: &str) -> bool {
    matches!(coin, "PEPE" | "SHIB" | "BONK" | "FLOKI")
}

pub(crate) struct Spec<'a> {
    pub(crate) cfg: &'a InstanceConfig,
    pub(crate) coin: Coin,
    pub(crate) symbol: String,
    pub(crate) base: String,
    pub(crate) quote: &'static str,
    pub(crate) contract: Contract,
    pub(crate) mult: f64,
    pub(crate) code: u64,
}

pub(crate) fn make(spec: Spec<'_>) -> Instrument {
    let Spec {
        cfg,
        coin,
        symbol,
        base,
        quote,
        contract,
        mult,
        code,
    } = spec;
    let h = h2(cfg.seed, str_hash(&symbol));
    let key = str_hash(&coin.name);
    let level = coin.price * mult;
    let price_dp = (5 - level.log10().floor() as i32).clamp(0, 8) as u32;
    let qty_dp = (level.log10().floor() as i32 - 1).clamp(0, 3) as u32;
    let vol = match coin.tier {
        0 => 0.00012 + 0.00004 * unit(key),
        1 => 0.0002 + 0.0001 * unit(key),
        _ => 0.00025 + 0.00025 * unit(key),
    };
    let (oi_usd, vol_usd) = match (coin.tier, coin.rank) {
        (0, 0) => (8.0e9, 1.5e10),
        (0, _) => (4.0e9, 8.0e9),
        (1, _) => (2.0e8 + 4.0e8 * unit(key ^ 1), 6.0e8 + 1.5e9 * unit(key ^ 2)),
        (2, _) => (2.0e7 + 8.0e7 * unit(key ^ 1), 5.0e7 + 3.0e8 * unit(key ^ 2)),
        _ => (
            2.0e5 * 10f64.powf(2.2 * unit(h ^ 1)),
            1.0e6 * 10f64.powf(2.0 * unit(h ^ 2)),
        ),
    };
    // USDC books and dated contracts are thinner; Bybit and OKX are smaller venues than Binance.
    let thin = if quote == "USDC" || matches!(contract, Contract::Quarterly { .. }) {
        0.08
    } else {
        1.0
    };
    let thin = thin
        * match cfg.exchange {
            ExchangeKind::Binance => 1.0,
            ExchangeKind::Bybit => 0.6,
            ExchangeKind::Okx => 0.45,
            ExchangeKind::Bitget => 0.5,
            ExchangeKind::Gate => 0.55,
            ExchangeKind::Hyperliquid => 0.3,
            ExchangeKind::Mexc => 0.5,
            ExchangeKind::KucoinFutures => 0.4,
            ExchangeKind::Htx => 0.35,
            ExchangeKind::Bitmex => 0.1,
            ExchangeKind::KrakenFutures => 0.15,
            ExchangeKind::Deribit => 0.3,
            ExchangeKind::Dydx => 0.15,
            ExchangeKind::Bingx => 0.3,
        };

    let major = coin.rank < 2;
    let funding_hours = match contract {
        Contract::Quarterly { .. } => 0,
        // The big, liquid coins keep the default 8 h everywhere.
        _ if coin.rank < 13 => 8,
        _ => {
            let u = unit(h ^ 0x1417);
            if u < 0.05 {
                1
            } else if u < 0.20 {
                4
            } else {
                8
            }
        }
    };
    let cap = match cfg.exchange {
        ExchangeKind::Binance => 0.0075,
        ExchangeKind::Bybit | ExchangeKind::Okx if major => 0.00375,
        _ => match funding_hours {
            1 => 0.03,
            4 => 0.02,
            _ if unit(h ^ 0xca) < 0.5 => 0.005,
            _ => 0.01,
        },
    };
    let (cap, cap_adjusted) = match cfg.exchange {
        ExchangeKind::Binance if funding_hours != 8 && funding_hours != 0 => {
            (if unit(h ^ 0xcb) < 0.5 { 0.02 } else { 0.03 }, true)
        }
        ExchangeKind::Binance if funding_hours == 8 && !major && unit(h ^ 0xcc) < 0.06 => {
            (0.03, true)
        }
        _ => (cap, false),
    };
    let interest = 0.0001 * f64::from(funding_hours) / 8.0;
    let u = unit(h ^ 0xf1);
    let (funding_base, funding_amp) = if u < 0.55 {
        (interest, 0.0)
    } else if u < 0.97 {
        (
            interest + 0.0003 * signed(h ^ 0xf2) * f64::from(funding_hours) / 8.0,
            0.00015,
        )
    } else {
        (-0.002, 0.0005)
    };

    let (ct_val, lot_dp) = match (cfg.exchange, contract) {
        (ExchangeKind::Okx, Contract::InversePerpetual) => {
            (if coin.rank == 0 { 100.0 } else { 10.0 }, 0)
        }
        // As OKX lists them: BTC-USDT 0.01, ETH-USDT 0.1, BTC-USDC 0.0001, ETH-USDC 0.001.
        (ExchangeKind::Okx, _) if coin.rank == 0 => {
            (if quote == "USDC" { 0.0001 } else { 0.01 }, 2)
        }
        (ExchangeKind::Okx, _) if coin.rank == 1 => (if quote == "USDC" { 0.001 } else { 0.1 }, 2),
        (ExchangeKind::Okx, _) => {
            let target = [1.0, 10.0, 100.0][(h % 3) as usize];
            let exp = (target / coin.price).log10().round().clamp(-4.0, 7.0);
            (10f64.powf(exp), 0)
        }
        _ => (1.0, 0),
    };

    let listed_ms = HOUR_MS
        * (if coin.rank != usize::MAX {
            // Real coins: listed between 2019-09 and 2023-09.
            1_567_296_000_000 + (unit(key ^ 0x11) * 4.0 * 365.0 * DAY_MS as f64) as u64
        } else {
            // Synthetic coins: listed in 2024-2025.
            1_704_067_200_000 + (unit(h ^ 0x11) * 600.0 * DAY_MS as f64) as u64
        } / HOUR_MS);

    Instrument {
        symbol,
        base,
        coin: coin.name.clone(),
        quote,
        contract,
        status: Status::Trading,
        real: coin.rank != usize::MAX,
        rank: coin.rank,
        h,
        key,
        level,
        mult,
        vol,
        price_dp,
        qty_dp,
        ct_val,
        lot_dp,
        funding_hours,
        funding_cap: cap,
        funding_floor: -cap,
        cap_adjusted,
        funding_base,
        funding_amp,
        okx_next_period: unit(h ^ 0x0e) < 0.15,
        oi_usd: oi_usd * thin,
        vol_usd: vol_usd * thin,
        listed_ms,
        code,
    }
}

/// Marks a few synthetic instruments as not trading, at fixed positions.
pub(crate) fn apply_statuses(
    list: &mut [Instrument],
    now_ms: u64,
    pending_every: usize,
    pending_at: usize,
    settling_at: Option<usize>,
) {
    let mut synthetic = 0usize;
    for inst in list.iter_mut().filter(|i| !i.real && i.is_perpetual()) {
        synthetic += 1;
        if synthetic % pending_every == pending_at {
            inst.status = Status::PreLaunch;
            inst.listed_ms = (now_ms / HOUR_MS + 24 * (1 + inst.h % 7)) * HOUR_MS;
        } else if Some(synthetic % pending_every) == settling_at {
            inst.status = Status::Settling;
        }
    }
}

pub(crate) fn dated_count(n: usize) -> usize {
    if n >= 10 {
        (n / 10).min(4)
    } else {
        0
    }
}

fn compose_binance(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let dated = dated_count(n);
    let usdc = if n >= 20 { (n / 25).min(20) } else { 0 };
    let perps = n - dated - usdc;
    let mut out = Vec::with_capacity(n);
    let name = |c: &Coin| {
        if thousand_multiplied(&c.name) {
            (format!("1000{}", c.name), 1000.0)
        } else {
            (c.name.clone(), 1.0)
        }
    };
    for (quote, list) in [("USDT", coins(perps)), ("USDC", coins(usdc))] {
        for coin in list {
            let (base, mult) = name(&coin);
            let code = out.len() as u64;
            out.push(make(Spec {
                cfg,
                symbol: format!("{base}{quote}"),
                base,
                quote,
                contract: Contract::Perpetual,
                mult,
                code,
                coin,
            }));
        }
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
    apply_statuses(&mut out, now_ms, 150, 75, Some(140));
    out
}

fn compose_bybit(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let dated = dated_count(n);
    let mut out = Vec::with_capacity(n);
    for coin in coins(n - dated) {
        let (base, mult) = match coin.name.as_str() {
            "SHIB" => ("SHIB1000".to_string(), 1000.0),
            c if thousand_multiplied(c) => (format!("1000{c}"), 1000.0),
            c => (c.to_string(), 1.0),
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
    let (cur, next) = quarterly_expiries(now_ms);
    for i in 0..dated {
        let Some(coin) = real_coin(i / 2) else { break };
        let expiry_ms = if i % 2 == 0 { cur } else { next };
        let (y, m, d) = civil_from_days((expiry_ms / DAY_MS) as i64);
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!(
                "{}-{:02}{}{:02}",
                coin.name,
                d,
                MONTHS[(m - 1) as usize],
                y % 100
            ),
            base: coin.name.clone(),
            quote: "USDC",
            contract: Contract::Quarterly {
                expiry_ms,
                next: i % 2 == 1,
            },
            mult: 1.0,
            code,
            coin,
        }));
    }
    apply_statuses(&mut out, now_ms, 200, 100, None);
    out
}

fn compose_okx(cfg: &InstanceConfig, _now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let inverse = if n >= 10 { (n / 30).clamp(1, 8) } else { 0 };
    let usdc = if n >= 20 { (n / 15).min(20) } else { 0 };
    let linear = n - inverse - usdc;
    let mut out = Vec::with_capacity(n);
    let mut code = 10_000u64;
    for (quote, list, contract) in [
        ("USDT", coins(linear), Contract::Perpetual),
        ("USDC", coins(usdc), Contract::Perpetual),
        ("USD", coins(inverse), Contract::InversePerpetual),
    ] {
        for coin in list {
            code += 1 + coin.name.len() as u64;
            out.push(make(Spec {
                cfg,
                symbol: format!("{}-{quote}-SWAP", coin.name),
                base: coin.name.clone(),
                quote,
                contract,
                mult: 1.0,
                code,
                coin,
            }));
        }
    }
    out
}

pub(crate) const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// The two nearest quarterly expiries after `now_ms`: the last Friday of March, June, September
/// and December at 08:00 UTC.
pub fn quarterly_expiries(now_ms: u64) -> (u64, u64) {
    let (year, _, _) = civil_from_days((now_ms / DAY_MS) as i64);
    let mut found = Vec::with_capacity(2);
    for y in year..=year + 2 {
        for m in [3u32, 6, 9, 12] {
            let days = last_friday(y, m);
            let at = days as u64 * DAY_MS + 8 * HOUR_MS;
            if at > now_ms {
                found.push(at);
                if found.len() == 2 {
                    return (found[0], found[1]);
                }
            }
        }
    }
    (now_ms + 90 * DAY_MS, now_ms + 180 * DAY_MS)
}

fn last_friday(year: i64, month: u32) -> i64 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let last = days_from_civil(ny, nm, 1) - 1;
    // 1970-01-01 was a Thursday: weekday 0 = Sunday .. 5 = Friday.
    let weekday = (last + 4).rem_euclid(7);
    last - (weekday - 5).rem_euclid(7)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a count of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `ms` as an ISO-8601 UTC time with `fraction_digits` (0 to 3) digits of milliseconds:
/// `2024-11-25T04:00:00.000Z` (3), `2022-03-22T13:18:45Z` (0).
pub fn iso8601(ms: u64, fraction_digits: u32) -> String {
    let (y, m, d) = civil_from_days((ms / DAY_MS) as i64);
    let in_day = ms % DAY_MS;
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        in_day / HOUR_MS,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60
    );
    let digits = fraction_digits.min(3);
    if digits > 0 {
        let millis = format!("{:03}", in_day % 1_000);
        out.push('.');
        out.push_str(&millis[..digits as usize]);
    }
    out.push('Z');
    out
}

// ---- deterministic noise -------------------------------------------------------------------

/// The splitmix64 finalizer.
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Hash of two words.
pub fn h2(a: u64, b: u64) -> u64 {
    mix64(a ^ mix64(b.wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

/// Uniform in [0, 1).
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Uniform in [-1, 1).
pub fn signed(h: u64) -> f64 {
    unit(h) * 2.0 - 1.0
}

/// FNV-1a of a string.
pub fn str_hash(s: &str) -> u64 {
    crate::config::seed_from_name(s)
}

/// Value noise in [-1, 1]: random values every `period` seconds, smoothly interpolated.
fn smooth(h: u64, t: u64, period: u64) -> f64 {
    let i = t / period;
    let f = (t % period) as f64 / period as f64;
    let a = signed(h2(h, i));
    let b = signed(h2(h, i + 1));
    let s = f * f * (3.0 - 2.0 * f);
    a + (b - a) * s
}

const OCTAVES: [(u64, f64); 6] = [
    (2, 1.414),
    (16, 4.0),
    (128, 11.31),
    (1_024, 32.0),
    (8_192, 90.51),
    (65_536, 256.0),
];

/// Log-price offset of an asset at second `t`: value noise at scales from 2 s to 18 h with
/// amplitudes growing like √scale (so it looks like a random walk), bounded to about ±8%.
fn market_log(key: u64, vol: f64, t: u64) -> f64 {
    OCTAVES
        .iter()
        .enumerate()
        .map(|(j, &(period, amp))| vol * amp * smooth(h2(key, j as u64), t, period))
        .sum()
}

fn pow10_neg(dp: u32) -> f64 {
    10f64.powi(-(dp as i32))
}

/// Rounds to `dp` decimal places.
pub fn round_to(v: f64, dp: u32) -> f64 {
    let s = 10f64.powi(dp as i32);
    (v * s).round() / s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InstanceConfig;

    #[test]
    fn calendar_roundtrips() {
        for z in [-1000i64, 0, 19_000, 20_415, 60_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2026-03-27 is the last Friday of March 2026.
        assert_eq!(civil_from_days(last_friday(2026, 3)), (2026, 3, 27));
        assert_eq!(civil_from_days(last_friday(2025, 12)), (2025, 12, 26));
        assert_eq!(iso8601(1_732_507_200_123, 3), "2024-11-25T04:00:00.123Z");
        assert_eq!(iso8601(1_647_955_125_000, 0), "2022-03-22T13:18:45Z");
        assert_eq!(iso8601(1_732_507_200_123, 1), "2024-11-25T04:00:00.1Z");
    }

    #[test]
    fn expiries_are_quarterly_fridays() {
        let now = days_from_civil(2026, 11, 23) as u64 * DAY_MS;
        let (a, b) = quarterly_expiries(now);
        assert_eq!(civil_from_days((a / DAY_MS) as i64), (2026, 12, 25));
        assert_eq!(civil_from_days((b / DAY_MS) as i64), (2027, 3, 26));
        assert_eq!(a % DAY_MS, 8 * HOUR_MS);
    }

    #[test]
    fn snapshots_are_consistent_and_deterministic() {
        let cfg = InstanceConfig::new("binance", ExchangeKind::Binance);
        let now = 1_790_000_000_000;
        let u = Universe::build(&cfg, now);
        assert_eq!(u.instruments.len(), 650);
        for inst in &u.instruments {
            let s = inst.snapshot(now);
            assert!(s.bid < s.ask, "{} {s:?}", inst.symbol);
            assert!(s.bid <= s.last && s.last <= s.ask, "{} {s:?}", inst.symbol);
            assert!(
                s.low_24h <= s.last && s.last <= s.high_24h,
                "{} {s:?}",
                inst.symbol
            );
            assert!(
                (s.mark / s.index - 1.0).abs() < 0.2,
                "{} {s:?}",
                inst.symbol
            );
            assert!(s.oi_base > 0.0 && s.vol_base > 0.0);
            assert!(s.funding_rate <= inst.funding_cap && s.funding_rate >= inst.funding_floor);
            assert_eq!(s, inst.snapshot(now));
        }
        let again = Universe::build(&cfg, now);
        assert_eq!(again.instruments[100].symbol, u.instruments[100].symbol);
    }

    #[test]
    fn about_a_third_of_symbols_change_per_second() {
        let cfg = InstanceConfig::new("bybit", ExchangeKind::Bybit);
        let now = 1_790_000_000_000;
        let u = Universe::build(&cfg, now);
        let changed = u
            .instruments
            .iter()
            .filter(|i| i.snapshot(now) != i.snapshot(now + 1000))
            .count();
        let frac = changed as f64 / u.instruments.len() as f64;
        assert!((0.2..0.45).contains(&frac), "{frac}");
    }
}
