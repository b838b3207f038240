//! Configuration. Owns what an operator can set and how it is read; must not start anything
//! (the supervisor applies a config).
//!
//! - `model`: the typed model, named defaults, semantic checks (re-exported here, so
//!   `crate::config::Config` and friends keep their paths);
//! - `load`: formats, layers, profiles, `extends`, environment overrides ([`load()`]);
//! - `secrets`: `${VAR}` interpolation and redaction;
//! - `validate`: JSON Schema, typed and semantic checks, problems naming file and key.

mod load;
mod model;
mod secrets;
mod validate;

pub use load::{
    detect_profile, load, select_profile, Environment, LoadRequest, LoadedConfig,
    DEFAULT_CONFIG_PATH, DEFAULT_PROFILE, DETECTED_PRODUCTION_PROFILE, ENV_OVERRIDE_PREFIX,
    ENV_OVERRIDE_SEPARATOR, EXTENDS_KEY, EXTENSIONS, PRODUCTION_MARKER_ENV, PROFILE_ENV,
};
pub use model::*;
pub use secrets::{url_has_userinfo, REDACTED, SECRET_FIELD_NAMES};
pub use validate::{ConfigErrors, ConfigProblem};

#[cfg(test)]
pub(crate) mod tests;
