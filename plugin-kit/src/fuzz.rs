//! Bounded property runs: the case count and seed every run reads from the environment, and the
//! body mutator the differential JSON test and the conformance suite's parse run share.
//!
//! Owns: `FC_FUZZ_CASES` (cases per run; raise it to run for hours) and `FC_FUZZ_SEED` (replay a
//! failing run: the seed is printed at the start of each), and [`mutate`].
//! Must not: be compiled into a plugin (tests and feature `conformance` only).

#![allow(clippy::indexing_slicing)]

/// Environment variable setting the case count of every property run (each has its default).
pub const FUZZ_CASES_ENV: &str = "FC_FUZZ_CASES";
/// Environment variable fixing the seed of every property run (default: a fresh one, printed).
pub const FUZZ_SEED_ENV: &str = "FC_FUZZ_SEED";

/// How many cases a property run makes: [`FUZZ_CASES_ENV`] or `default`.
pub fn fuzz_cases(default: u64) -> u64 {
    std::env::var(FUZZ_CASES_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seed of a property run: [`FUZZ_SEED_ENV`], else a fresh one (printed, to replay).
pub fn fuzz_seed() -> u64 {
    let seed = std::env::var(FUZZ_SEED_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("fuzz seed {seed} (replay with {FUZZ_SEED_ENV}={seed})");
    seed
}

/// Byte strings that make JSON interesting when spliced in.
const SPLICES: [&str; 16] = [
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "\"\"",
    "-",
    "1e999",
    "0.0",
    "\\u0000",
    "99999999999999999999999",
    "\u{e9}",
];

/// `body` damaged `steps` times: bytes flipped, deleted, duplicated, JSON tokens spliced in,
/// or the body cut short.
pub fn mutate(rng: &mut fastrand::Rng, body: &[u8], steps: usize) -> Vec<u8> {
    let mut out = body.to_vec();
    for _ in 0..steps {
        let at = rng.usize(..=out.len());
        match rng.u8(..6) {
            0 if at < out.len() => out[at] = rng.u8(..),
            1 if at < out.len() => {
                out.remove(at);
            }
            2 => {
                let splice = SPLICES[rng.usize(..SPLICES.len())];
                out.splice(at..at, splice.bytes());
            }
            3 => out.truncate(at),
            4 if at < out.len() => {
                let end = (at + rng.usize(1..64)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            _ => {
                let c = rng.choice(*b"0123456789.eE-+\"").unwrap_or(b'0');
                out.insert(at, c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! The differential property test of the fast JSON path (issue 15 item 4): on generated
    //! JSON and on mutated generated or recorded JSON, `json_from_body` gives exactly what
    //! `serde_json::from_str` gives (the same value, or an error with the same category and
    //! message), for a dynamic value and for typed exchange-like rows.

    use super::*;
    use serde::Deserialize;
    use serde_json::{Map, Value};

    /// Generated documents per run in the test command (a second or two in a debug build).
    const DEFAULT_DIFFERENTIAL_CASES: u64 = 20_000;
    /// Deepest generated nesting.
    const MAX_GENERATED_DEPTH: u32 = 5;
    /// Keys the generator uses: the typed rows' fields, so that typed decoding is exercised.
    const KEYS: [&str; 9] = ["code", "msg", "data", "s", "p", "t", "ok", "n", "e\\u00e9"];

    #[derive(Deserialize, Debug, PartialEq)]
    struct Envelope<'a> {
        code: Option<Value>,
        msg: Option<&'a str>,
        #[serde(borrow)]
        data: Option<Vec<Row<'a>>>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Row<'a> {
        s: &'a str,
        p: Option<f64>,
        t: Option<i64>,
        ok: Option<bool>,
        n: Option<Vec<u64>>,
    }

    fn number(rng: &mut fastrand::Rng) -> Value {
        match rng.u8(..5) {
            0 => Value::from(rng.i64(..)),
            1 => Value::from(rng.u64(..)),
            2 => Value::from(rng.i32(-1000..1000)),
            3 => serde_json::Number::from_f64(rng.f64() * 10f64.powi(rng.i32(-20..20)))
                .map_or(Value::Null, Value::Number),
            _ => Value::from(0),
        }
    }

    fn text(rng: &mut fastrand::Rng) -> String {
        const ALPHABET: [&str; 12] = [
            "B", "T", "C", "-", "0", ".", "1", " ", "\"", "\\", "é", "\u{1}",
        ];
        (0..rng.usize(..12))
            .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
            .collect()
    }

    fn value(rng: &mut fastrand::Rng, depth: u32) -> Value {
        let leaf = depth >= MAX_GENERATED_DEPTH;
        match rng.u8(..if leaf { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.bool()),
            2 => number(rng),
            3 => Value::String(text(rng)),
            4 => Value::String(number(rng).to_string()),
            5 => Value::Array((0..rng.usize(..5)).map(|_| value(rng, depth + 1)).collect()),
            _ => {
                let map: Map<String, Value> = (0..rng.usize(..6))
                    .map(|_| {
                        (
                            KEYS[rng.usize(..KEYS.len())].to_owned(),
                            value(rng, depth + 1),
                        )
                    })
                    .collect();
                Value::Object(map)
            }
        }
    }

    /// `json_from_body` against `serde_json::from_str` for one target type.
    fn agree<'a, T>(body: &'a [u8]) -> Result<(), String>
    where
        T: Deserialize<'a> + PartialEq + std::fmt::Debug,
    {
        let fast = crate::json_from_body::<T>(body);
        let Ok(text) = std::str::from_utf8(body) else {
            return match fast {
                Err(_) => Ok(()),
                Ok(v) => Err(format!("decoded a non-UTF-8 body: {v:?}")),
            };
        };
        match (fast, serde_json::from_str::<T>(text)) {
            (Ok(a), Ok(b)) if a == b => Ok(()),
            (Err(a), Err(b)) if a.classify() == b.classify() && a.to_string() == b.to_string() => {
                Ok(())
            }
            (a, b) => Err(format!("fast {a:?} vs serde_json {b:?}")),
        }
    }

    fn check(body: &[u8]) {
        for result in [
            agree::<Value>(body),
            agree::<Envelope<'_>>(body),
            agree::<Vec<Row<'_>>>(body),
        ] {
            if let Err(e) = result {
                panic!("{e} on {:?}", String::from_utf8_lossy(body));
            }
        }
    }

    #[test]
    fn fast_path_agrees_with_serde_json_on_generated_and_mutated_json() {
        let mut rng = fastrand::Rng::with_seed(fuzz_seed());
        for _ in 0..fuzz_cases(DEFAULT_DIFFERENTIAL_CASES) {
            let doc = value(&mut rng, 0);
            let body = if rng.bool() {
                serde_json::to_vec(&doc)
            } else {
                serde_json::to_vec_pretty(&doc)
            }
            .expect("a Value serializes");
            check(&body);
            let steps = rng.usize(1..6);
            check(&mutate(&mut rng, &body, steps));
        }
    }

    #[test]
    fn fast_path_agrees_with_serde_json_on_mutated_recorded_bodies() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/exchange-fixtures"
        );
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for exchange in ["binanceusdm", "bybit", "okx"] {
            let entries = std::fs::read_dir(format!("{dir}/{exchange}")).expect("fixtures exist");
            for entry in entries {
                bodies.push(std::fs::read(entry.expect("entry").path()).expect("readable"));
            }
        }
        assert!(bodies.len() > 10, "{} recorded bodies", bodies.len());
        let mut rng = fastrand::Rng::with_seed(fuzz_seed());
        for _ in 0..fuzz_cases(DEFAULT_DIFFERENTIAL_CASES / 10) {
            let body = &bodies[rng.usize(..bodies.len())];
            check(body);
            let steps = rng.usize(1..6);
            check(&mutate(&mut rng, body, steps));
        }
    }

    #[test]
    fn mutations_change_bodies_and_stay_bounded() {
        let mut rng = fastrand::Rng::with_seed(7);
        let body = br#"{"a":[1,2,3],"b":"x"}"#;
        let changed = (0..50)
            .filter(|_| mutate(&mut rng, body, 3) != body)
            .count();
        assert!(changed > 40, "{changed}");
        assert!((0..50).all(|_| mutate(&mut rng, body, 4).len() < body.len() + 4 * 64 + 32));
    }
}
