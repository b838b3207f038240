//! The rate budget plan of one exchange instance: for every rate-limit rule, the weight each
//! kind needs per window at its configured interval (its round's weight on that rule × rounds
//! per window) against the budget (the documented limit × `http.rate_limit_share`); and, when
//! the kinds together need more than a rule's budget, the cadence each kind keeps so that the
//! steady state fits: every kind slows, primary kinds (instruments, tickers, funding) less
//! than the others, and none stops.
//!
//! Owns that arithmetic and its wording (the plan's types are telemetry's vocabulary, which
//! shows them). Must not send, wait or schedule anything: the cycle applies the cadence and
//! paces its rounds, `http` enforces the budget request by request.

use std::time::Duration;

pub use crate::observe::telemetry::{BudgetPlan, KindPlan, RulePlan};

/// Share of a rule's budget the plan fills: the rest absorbs retries, pages and the first
/// rounds before every kind's weight is known.
pub const PLAN_TARGET_USE: f64 = 0.95;
/// How much more of its cadence a primary kind keeps than another kind when the budget is
/// short. Bounded so that with twice the budget needed no kind falls below 40% of its cadence:
/// the least a kind keeps is `PLAN_TARGET_USE / (2 × PRIMARY_KIND_WEIGHT)` = 41%.
pub const PRIMARY_KIND_WEIGHT: f64 = 1.15;
/// Kinds that are primary by name (the host's convention shared with every adapter): what
/// the feed is for, and what the others need first.
pub const PRIMARY_KINDS: [&str; 3] = ["instruments", "tickers", "funding"];
/// A round that, sent as a burst, would hold a rule's whole budget for longer than this is
/// paced across its interval instead (a per-symbol round, e.g. Binance's open interest: 650
/// weight of 1,200 per minute would hold it for 32 s). Shorter bursts (Deribit's three
/// currencies: 0.3 s of its 10 per second) go out at once.
pub const PACE_MIN_HOLD: Duration = Duration::from_secs(2);
/// Rounds of fewer requests are never paced: a handful of bulk requests (Hyperliquid's two
/// funding calls to `/info`, 40 weight of its 600 per minute) belong together in time, and
/// their burst is short however heavy.
pub const PACE_MIN_REQUESTS: usize = 10;
/// A paced round is spread over this share of its (effective) interval, so it ends before
/// the next one starts.
pub const PACE_SPREAD: f64 = 0.8;
/// Bisection steps when solving for the shared cadence of an over-budget rule (2^-40 exact).
const SOLVE_STEPS: u32 = 40;

/// One rate-limit rule as the budget holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleBudget {
    /// Requests whose path starts with this count against the rule (empty: all).
    pub path_prefix: String,
    pub window: Duration,
    /// Weight allowed per window: the documented limit × the configured share.
    pub budget: f64,
}

impl RuleBudget {
    pub fn applies_to(&self, path: &str) -> bool {
        path.starts_with(self.path_prefix.as_str())
    }
}

/// What one kind asks of the budget: its interval and the weight of its last round on each
/// rule (same order as the rules).
#[derive(Debug, Clone, PartialEq)]
pub struct KindDemand {
    pub kind: String,
    pub interval: Duration,
    pub primary: bool,
    pub weight_by_rule: Vec<u64>,
}

impl KindDemand {
    /// The demand of a round of `requests` (path, weight) under `rules`.
    pub fn of_round<'a>(
        kind: &str,
        interval: Duration,
        rules: &[RuleBudget],
        requests: impl Iterator<Item = (&'a str, u32)> + Clone,
    ) -> Self {
        let weight_by_rule = rules
            .iter()
            .map(|rule| {
                requests
                    .clone()
                    .filter(|(path, _)| rule.applies_to(path))
                    .map(|(_, w)| u64::from(w.max(1)))
                    .sum()
            })
            .collect();
        Self {
            kind: kind.to_owned(),
            interval,
            primary: PRIMARY_KINDS.contains(&kind),
            weight_by_rule,
        }
    }

    /// Weight per `window` on rule `r` at the nominal interval.
    fn need(&self, r: usize, window: Duration) -> f64 {
        let weight = self.weight_by_rule.get(r).copied().unwrap_or(0) as f64;
        if weight == 0.0 {
            return 0.0;
        }
        weight * window.as_secs_f64() / self.interval.as_secs_f64().max(1e-3)
    }

    fn priority(&self) -> f64 {
        if self.primary {
            PRIMARY_KIND_WEIGHT
        } else {
            1.0
        }
    }
}

impl RulePlan {
    /// Whether the kinds need more of this rule than the plan fills.
    fn is_over_budget(&self) -> bool {
        self.needed > self.budget * PLAN_TARGET_USE
    }
}

impl BudgetPlan {
    /// Plans `demands` against `rules`.
    pub fn new(rules: &[RuleBudget], demands: &[KindDemand]) -> Self {
        let mut cadence = vec![1.0f64; demands.len()];
        let mut rule_plans = Vec::with_capacity(rules.len());
        for (r, rule) in rules.iter().enumerate() {
            let needs: Vec<f64> = demands.iter().map(|d| d.need(r, rule.window)).collect();
            let needed: f64 = needs.iter().sum();
            let target = rule.budget * PLAN_TARGET_USE;
            if needed > target {
                let shared = solve_shared_cadence(demands, &needs, target);
                for (k, d) in demands.iter().enumerate() {
                    if needs[k] > 0.0 {
                        cadence[k] = cadence[k].min((d.priority() * shared).min(1.0));
                    }
                }
            }
            rule_plans.push((rule, needs, needed));
        }
        let rules = rule_plans
            .into_iter()
            .map(|(rule, needs, needed)| RulePlan {
                path_prefix: rule.path_prefix.clone(),
                window_ms: rule.window.as_millis() as u64,
                budget: rule.budget,
                needed,
                needed_by_kind: demands
                    .iter()
                    .zip(&needs)
                    .filter(|(_, n)| **n > 0.0)
                    .map(|(d, n)| (d.kind.clone(), *n))
                    .collect(),
                planned: needs.iter().zip(&cadence).map(|(n, c)| n * c).sum(),
            })
            .collect();
        let kinds = demands
            .iter()
            .zip(&cadence)
            .map(|(d, &c)| KindPlan {
                kind: d.kind.clone(),
                primary: d.primary,
                interval_ms: d.interval.as_millis() as u64,
                cadence: c,
                effective_interval_ms: (d.interval.as_secs_f64() / c.max(1e-6) * 1e3) as u64,
            })
            .collect();
        Self { rules, kinds }
    }

    /// The cadence `kind` keeps (1 when the plan does not know it).
    pub fn cadence(&self, kind: &str) -> f64 {
        self.kinds
            .iter()
            .find(|k| k.kind == kind)
            .map_or(1.0, |k| k.cadence)
    }

    /// The rules whose kinds need more than their budget, as `path_prefix@window_ms` (what a
    /// warning is about: its numbers may change while it holds).
    pub fn over_budget_rules(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| r.is_over_budget())
            .map(|r| format!("{}@{}", r.path_prefix, r.window_ms))
            .collect()
    }

    /// One warning per rule whose kinds need more than its budget: which kinds, how much, and
    /// what to do (in the order of [`BudgetPlan::over_budget_rules`]).
    pub fn warnings(&self, exchange: &str) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| r.is_over_budget())
            .map(|r| {
                let mut by_kind = r.needed_by_kind.clone();
                by_kind.sort_by(|a, b| b.1.total_cmp(&a.1));
                let kinds: Vec<String> = by_kind
                    .iter()
                    .map(|(k, n)| format!("{k} {}", weight(*n)))
                    .collect();
                let heaviest = by_kind.first().map_or("", |(k, _)| k.as_str());
                let scope = if r.path_prefix.is_empty() {
                    "all requests".to_owned()
                } else {
                    format!("requests to {}", r.path_prefix)
                };
                format!(
                    "{exchange}: the configured intervals need {} weight per {} of {scope}, over the budget of {} ({}); every kind is slowed to fit (primary kinds least). Fix: a longer interval for {heaviest} (exchanges.{exchange}.intervals.{heaviest}), or turn a kind off",
                    weight(r.needed),
                    humantime_window(r.window_ms),
                    weight(r.budget * PLAN_TARGET_USE),
                    kinds.join(", ")
                )
            })
            .collect()
    }
}

/// A weight as the warning shows it: whole units, tenths below 10 (`2.4` per second).
fn weight(w: f64) -> String {
    if w < 10.0 {
        format!("{w:.1}")
    } else {
        format!("{w:.0}")
    }
}

/// `60 s`, `1 s`, `500 ms`.
fn humantime_window(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// The shared cadence `c` with Σ need_k × min(1, priority_k × c) = `target`.
fn solve_shared_cadence(demands: &[KindDemand], needs: &[f64], target: f64) -> f64 {
    let planned = |c: f64| -> f64 {
        demands
            .iter()
            .zip(needs)
            .map(|(d, n)| n * (d.priority() * c).min(1.0))
            .sum()
    };
    let (mut low, mut high) = (0.0f64, 1.0f64);
    for _ in 0..SOLVE_STEPS {
        let mid = (low + high) / 2.0;
        if planned(mid) > target {
            high = mid;
        } else {
            low = mid;
        }
    }
    low
}

/// The pause between the requests of a round that must be paced: `None` when every rule can
/// take the round as a burst (it would hold no budget longer than [`PACE_MIN_HOLD`]), or when
/// it has fewer than [`PACE_MIN_REQUESTS`] requests.
pub fn pacing(
    rules: &[RuleBudget],
    demand: &KindDemand,
    period: Duration,
    requests: usize,
) -> Option<Duration> {
    let heavy = rules.iter().zip(&demand.weight_by_rule).any(|(rule, &w)| {
        let hold = rule.window.as_secs_f64() * w as f64 / rule.budget.max(1e-9);
        hold > PACE_MIN_HOLD.as_secs_f64()
    });
    (heavy && requests >= PACE_MIN_REQUESTS).then(|| period.mul_f64(PACE_SPREAD) / requests as u32)
}

/// The slot of each request of a paced round, given their paths: the round-wide requests (a
/// path asked once, e.g. the marks Binance's and BingX's open interest is valued at) go
/// first, at once (slot 0); the per-symbol ones (a path asked many times) one slot each, in
/// order.
pub fn paced_slots<'a>(paths: impl Iterator<Item = &'a str> + Clone) -> Vec<u32> {
    let mut per_path: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for p in paths.clone() {
        *per_path.entry(p).or_default() += 1;
    }
    let mut next = 0u32;
    paths
        .map(|p| {
            if per_path.get(p).copied().unwrap_or(0) <= 1 {
                0
            } else {
                next += 1;
                next - 1
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(budget: f64, window_s: u64) -> RuleBudget {
        RuleBudget {
            path_prefix: String::new(),
            window: Duration::from_secs(window_s),
            budget,
        }
    }

    fn demand(kind: &str, interval_s: u64, weight: u64) -> KindDemand {
        KindDemand {
            kind: kind.to_owned(),
            interval: Duration::from_secs(interval_s),
            primary: PRIMARY_KINDS.contains(&kind),
            weight_by_rule: vec![weight],
        }
    }

    #[test]
    fn within_budget_every_kind_keeps_its_cadence() {
        // Binance at its defaults but with open interest every 4 min: 55 × 12 + 10 × 2 + 650 / 4.
        let plan = BudgetPlan::new(
            &[rule(1200.0, 60)],
            &[
                demand("tickers", 5, 55),
                demand("funding", 30, 10),
                demand("open_interest", 240, 650),
            ],
        );
        assert!(plan.kinds.iter().all(|k| k.cadence == 1.0), "{plan:?}");
        assert!((plan.rules[0].needed - (660.0 + 20.0 + 162.5)).abs() < 1e-9);
        assert!(plan.warnings("binance").is_empty());
    }

    #[test]
    fn the_shipped_binance_defaults_fit_once_open_interest_is_paced() {
        // Issue 19's measurement: tickers 5 s (55), funding 30 s (10), open interest 2 min
        // (650 × 1) against 1,200 weight/min.
        let plan = BudgetPlan::new(
            &[rule(1200.0, 60)],
            &[
                demand("tickers", 5, 55),
                demand("funding", 30, 10),
                demand("open_interest", 120, 650),
            ],
        );
        let r = &plan.rules[0];
        assert!((r.needed - 1005.0).abs() < 1e-9, "{r:?}");
        // 1005 of 1200 fits: the stalls came from the burst, which pacing removes.
        assert_eq!(r.planned, r.needed);
        assert!(plan.warnings("binance").is_empty());
        let oi = &demand("open_interest", 120, 650);
        assert!(pacing(&[rule(1200.0, 60)], oi, Duration::from_secs(120), 650).is_some());
    }

    #[test]
    fn twice_the_budget_keeps_every_kind_at_40_percent_or_more() {
        // Table: (demands, budget) needing about twice the budget in different mixes.
        // (kind, interval s, weight per round) of each kind, and the budget per minute.
        type Case<'a> = (&'a [(&'a str, u64, u64)], f64);
        let cases: &[Case] = &[
            (&[("tickers", 1, 20), ("open_interest", 60, 1200)], 1200.0),
            (&[("tickers", 1, 35), ("funding", 10, 50)], 1200.0),
            (
                &[("open_interest", 30, 600), ("long_short", 30, 600)],
                1200.0,
            ),
            (&[("tickers", 2, 60), ("open_interest", 60, 600)], 1200.0),
        ];
        for (kinds, budget) in cases {
            let demands: Vec<KindDemand> =
                kinds.iter().map(|(k, i, w)| demand(k, *i, *w)).collect();
            let plan = BudgetPlan::new(&[rule(*budget, 60)], &demands);
            let r = &plan.rules[0];
            assert!(
                r.needed >= 1.7 * budget && r.needed <= 2.1 * budget,
                "case needs {}",
                r.needed
            );
            assert!(r.planned <= budget * PLAN_TARGET_USE + 1e-6, "{r:?}");
            for k in &plan.kinds {
                assert!(k.cadence >= 0.4, "{k:?} in {kinds:?}");
                assert!(k.cadence > 0.0 && k.cadence <= 1.0);
                let expected = (k.interval_ms as f64 / k.cadence) as u64;
                assert!(k.effective_interval_ms.abs_diff(expected) <= 1);
            }
            let (primary, other): (Vec<_>, Vec<_>) = plan.kinds.iter().partition(|k| k.primary);
            if let (Some(p), Some(o)) = (primary.first(), other.first()) {
                assert!(p.cadence >= o.cadence, "primary slowed more: {plan:?}");
            }
            let w = plan.warnings("x");
            assert_eq!(w.len(), 1, "{w:?}");
            assert_eq!(plan.over_budget_rules(), ["@60000"]);
        }
    }

    #[test]
    fn the_warning_names_the_exchange_the_kinds_and_a_fix() {
        let plan = BudgetPlan::new(
            &[rule(1200.0, 60)],
            &[demand("tickers", 2, 55), demand("open_interest", 60, 650)],
        );
        let w = plan.warnings("binance");
        assert_eq!(w.len(), 1);
        let w = &w[0];
        for part in [
            "binance:",
            "need 2300 weight per 60 s",
            "tickers 1650",
            "open_interest 650",
            "exchanges.binance.intervals.tickers",
        ] {
            assert!(w.contains(part), "{part:?} missing in {w}");
        }
    }

    #[test]
    fn only_kinds_using_an_over_budget_rule_slow_down() {
        let rules = [
            RuleBudget {
                path_prefix: "/fapi/v1/openInterest".into(),
                window: Duration::from_secs(60),
                budget: 100.0,
            },
            rule(10_000.0, 60),
        ];
        let oi = KindDemand::of_round(
            "open_interest",
            Duration::from_secs(30),
            &rules,
            std::iter::repeat_n(("/fapi/v1/openInterest", 1u32), 200),
        );
        let tickers = KindDemand::of_round(
            "tickers",
            Duration::from_secs(5),
            &rules,
            std::iter::once(("/fapi/v1/ticker/24hr", 40u32)),
        );
        assert_eq!(oi.weight_by_rule, [200, 200]);
        assert_eq!(tickers.weight_by_rule, [0, 40]);
        let plan = BudgetPlan::new(&rules, &[oi, tickers]);
        assert_eq!(plan.cadence("tickers"), 1.0);
        // 400 needed per minute, 95 planned: cadence 0.2375.
        assert!(
            (plan.cadence("open_interest") - 0.2375).abs() < 1e-6,
            "{plan:?}"
        );
        assert_eq!(plan.cadence("unknown"), 1.0);
    }

    #[test]
    fn heavy_rounds_are_paced_light_ones_are_not() {
        let rules = [rule(1200.0, 60)];
        let oi = demand("open_interest", 120, 650);
        let gap = pacing(&rules, &oi, Duration::from_secs(120), 650).unwrap();
        assert_eq!(gap, Duration::from_secs(96) / 650);
        let tickers = demand("tickers", 5, 55);
        assert_eq!(pacing(&rules, &tickers, Duration::from_secs(5), 1), None);
        // 30 of 1,200 per minute: held 1.5 s.
        let small = demand("funding", 30, 30);
        assert_eq!(pacing(&rules, &small, Duration::from_secs(30), 30), None);
        // Hyperliquid: two funding calls, 40 of 600 per minute (held 4 s, but two requests).
        let two = demand("funding", 1, 40);
        assert_eq!(
            pacing(&[rule(600.0, 60)], &two, Duration::from_secs(1), 2),
            None
        );
        // Deribit: three currencies against 10 per second.
        let deribit = [rule(10.0, 1)];
        let currencies = demand("instruments", 600, 3);
        assert_eq!(
            pacing(&deribit, &currencies, Duration::from_secs(600), 3),
            None
        );
        // BingX's open-interest sweep: 285 against 2.5 per second.
        let sweep = demand("open_interest", 120, 285);
        let gap = pacing(&[rule(2.5, 1)], &sweep, Duration::from_secs(120), 285).unwrap();
        assert_eq!(gap, Duration::from_secs(96) / 285);
    }

    #[test]
    fn round_wide_requests_go_first_per_symbol_ones_take_a_slot_each() {
        let paths = ["/oi", "/oi", "/premiumIndex", "/oi"];
        assert_eq!(paced_slots(paths.iter().copied()), [0, 1, 0, 2]);
        assert_eq!(paced_slots(["/a", "/b"].iter().copied()), [0, 0]);
    }
}
