//! Configuration. Owns what an operator can set and how it is read; must not start anything
//! (the supervisor applies a config) and depends on nothing that runs: the runtime modules
//! take their settings and defaults from here, never the other way round.
//!
//! - `breaker`: `[breaker]` (the circuit breaker's thresholds);
//! - `common`: defaults several sections share (sink buffers, `true` flags);
//! - `duration`: durations as written in config (`"5s"`, `"off"`);
//! - `amqp`: the AMQP sink's settings; `observe`: `[web]` and `[alerts]`;
//! - `model`: the typed model, named defaults, semantic checks (re-exported here, so
//!   `crate::config::Config` and friends keep their paths);
//! - `load`: formats, layers, profiles, `extends`, environment overrides ([`load()`]);
//! - `secrets`: `${VAR}` interpolation and redaction;
//! - `validate`: JSON Schema, typed and semantic checks;
//! - `problem`: what is wrong (file, key, message) and how a list of problems is shown;
//! - `environment`: the variables a load sees;
//! - `limits`: size limits of files, environment overrides, strings (by kind), lists, tables;
//! - `quote`: offending values quoted by a prefix, text cut to a budget with a visible mark.

mod amqp;
mod breaker;
mod common;
pub mod duration;
mod environment;
mod limits;
mod load;
mod model;
mod observe;
mod problem;
mod quote;
mod secrets;
mod validate;

pub use amqp::*;
pub use breaker::{
    BreakerConfig, DEFAULT_FAILURE_RATIO, DEFAULT_FAILURE_THRESHOLD, DEFAULT_MIN_SAMPLES,
    DEFAULT_OPEN_BASE, DEFAULT_OPEN_MAX, DEFAULT_SUCCESS_THRESHOLD, DEFAULT_WINDOW,
};
pub use common::{DEFAULT_SINK_BUFFER_MAX_RECORDS, DEFAULT_SINK_QUEUE_BATCHES};
pub use environment::Environment;
pub use limits::{
    ValueKind, KEY_KINDS, MAX_CONFIG_FILE_BYTES, MAX_ENV_OVERRIDE_BYTES, MAX_IDENTIFIER_BYTES,
    MAX_LIST_ITEMS, MAX_PATH_BYTES, MAX_TABLE_ENTRIES, MAX_TEXT_BYTES, MAX_URL_BYTES, PATH_KEYS,
};
pub use load::{
    detect_profile, load, select_profile, LoadRequest, LoadedConfig, DEFAULT_CONFIG_PATH,
    DEFAULT_PROFILE, DETECTED_PRODUCTION_PROFILE, ENV_OVERRIDE_PREFIX, ENV_OVERRIDE_SEPARATOR,
    EXTENDS_KEY, EXTENSIONS, PRODUCTION_MARKER_ENV, PROFILE_ENV,
};
pub use model::*;
pub use observe::*;
pub use problem::{
    ConfigErrors, ConfigProblem, MAX_PROBLEMS_SHOWN, MAX_PROBLEM_KEY_SHOWN,
    MAX_PROBLEM_MESSAGE_SHOWN,
};
pub use quote::{char_floor, cut, cut_mark, quote, CUT_MARK, CUT_MARK_RESERVE, QUOTE_MAX_CHARS};
pub use secrets::{url_has_userinfo, REDACTED, SECRET_FIELD_NAMES};

#[cfg(test)]
pub(crate) mod tests;
