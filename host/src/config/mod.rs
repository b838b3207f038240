//! Configuration: the typed model (`model`), re-exported here so `crate::config::Config` and
//! friends keep their paths.

mod model;

pub use model::*;
