//! Output: the public message format of a record (`message`, with its JSON Schemas) and the
//! sinks that write records (`sink`: JSONL, stdout, AMQP with its disk spool).
//!
//! Must not decide what is sent (change detection does) or reach into collection.

pub mod message;
pub mod sink;
