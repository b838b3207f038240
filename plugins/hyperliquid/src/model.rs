//! Serde wire types for the `POST /info` answers this plugin reads: `meta`,
//! `metaAndAssetCtxs` (a two-element array `[meta, assetCtxs]`) and `predictedFundings`
//! (`[[coin, [[venue, {..} | null], ...]], ...]`).
//!
//! Owns: the shape of each answer, field names as Hyperliquid spells them, and which fields are
//! required (a universe row without `name` is the wrong shape, hence a `PARSE` error). Prices
//! and sizes are strings, `predictedFundings` times and intervals and `szDecimals` JSON numbers
//! (exchange-notes errata 5): plugin-kit's `opt_f64`/`opt_ts` take both, and `""`, `null` and a
//! missing field stay `None`. Unknown fields are ignored: Hyperliquid adds fields (margin
//! tables, growth modes) without notice.
//! Must not: interpret values (the positional join, statuses, conversions): that is `parse`'s.

use std::{borrow::Cow, fmt};

use plugin_kit::de::{opt_f64, opt_ts};
use serde::{
    de::{self, SeqAccess, Visitor},
    Deserialize, Deserializer,
};

/// A string borrowed from the response body when it has no escapes.
pub type Str<'a> = Cow<'a, str>;

/// `{"universe":[...]}`: the answer to `{"type":"meta"}` and the first element of
/// `metaAndAssetCtxs`.
#[derive(Debug, Deserialize)]
pub struct Meta<'a> {
    #[serde(borrow)]
    pub universe: Vec<UniverseRow<'a>>,
}

/// One asset of `meta.universe`; its position is the asset index (the join key of `assetCtxs`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UniverseRow<'a> {
    /// The coin: `BTC`, `kPEPE`; HIP-3 builder dexes would be `dex:COIN`.
    #[serde(borrow)]
    pub name: Str<'a>,
    /// Size decimals (a JSON number); prices allow at most `6 - szDecimals` decimals.
    #[serde(default, deserialize_with = "opt_f64")]
    pub sz_decimals: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub max_leverage: Option<f64>,
    #[serde(default)]
    pub only_isolated: Option<bool>,
    #[serde(default)]
    pub is_delisted: Option<bool>,
}

/// One element of `assetCtxs` (same position as its universe row).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetCtx {
    /// The current hourly funding rate (fraction per hour).
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding: Option<f64>,
    /// Open interest in the coin (base units).
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub prev_day_px: Option<f64>,
    /// 24h notional volume in USDC (quote).
    #[serde(default, deserialize_with = "opt_f64")]
    pub day_ntl_vlm: Option<f64>,
    /// 24h volume in the coin (base).
    #[serde(default, deserialize_with = "opt_f64")]
    pub day_base_vlm: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub premium: Option<f64>,
    /// The oracle price: the index.
    #[serde(default, deserialize_with = "opt_f64")]
    pub oracle_px: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_px: Option<f64>,
    /// Mid of the book; `null` when the book is one-sided or empty.
    #[serde(default, deserialize_with = "opt_f64")]
    pub mid_px: Option<f64>,
    /// `[bid, ask]` impact prices (not top of book); `null` on an empty book.
    #[serde(default, deserialize_with = "impact_pxs")]
    pub impact_pxs: Option<ImpactPrices>,
}

/// `impactPxs` as `(bid, ask)`, each absent when sent as `""` or `null`.
pub type ImpactPrices = (Option<f64>, Option<f64>);

/// The answer to `{"type":"metaAndAssetCtxs"}`.
pub type MetaAndAssetCtxs<'a> = (Meta<'a>, Vec<AssetCtx>);

/// One venue's funding in `predictedFundings`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueFunding {
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub next_funding_time: Option<i64>,
    /// Present in newer answers only.
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_interval_hours: Option<f64>,
}

/// `[venue, {..} | null]`.
pub type VenueEntry<'a> = (Str<'a>, Option<VenueFunding>);

/// The answer to `{"type":"predictedFundings"}`: `[[coin, [venue entries]], ...]`.
pub type PredictedFundings<'a> = Vec<(Str<'a>, Vec<VenueEntry<'a>>)>;

/// `["1.5","1.6"]` → both prices; `null`, `""` or anything but a two-element list → `None`
/// (an impact price is informative, never a reason to drop the whole answer).
fn impact_pxs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ImpactPrices>, D::Error> {
    struct Pair;
    impl<'de> Visitor<'de> for Pair {
        type Value = Option<ImpactPrices>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a [bid, ask] pair of prices or null")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut prices = Vec::with_capacity(2);
            while let Some(Price(p)) = seq.next_element::<Price>()? {
                prices.push(p);
            }
            Ok(match prices.as_slice() {
                [bid, ask] => Some((*bid, *ask)),
                _ => None,
            })
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_any(Pair)
}

/// One element of a price list: a decimal string or number, `""`/`null` absent.
struct Price(Option<f64>);

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_f64(d).map(Price)
    }
}
