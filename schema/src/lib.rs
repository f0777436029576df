//! Wire format v1 of UFSE (DESIGN.md section 2), shared by every crate.
//!
//! This crate owns what a batch and an event are, how they are validated,
//! the stable names of every rejection and drop reason, and the log record
//! format the edge writes and processors read.
//!
//! - [`event`](Event): typed events; unknown kinds and fields pass through.
//! - [`validate`](parse_batch): envelope and per-event validation, truncation.
//! - [`reason`](RejectReason): the snake_case reasons used in bodies and metrics.
//! - [`log_batch`](LogBatch): the versioned log record and clock-skew correction.
//! - `binary`: the compact event encoding log records carry.
//! - [`fmt_ms`]: a wire timestamp (ms since the epoch) as people read it.

mod binary;
mod event;
mod fields;
mod log_batch;
mod reason;
mod time;
mod validate;

pub use binary::{decode_event, encode_event, event_list, BinaryError};
pub use event::{Body, Element, ErrorKind, Event, JsError, NavType, Visibility};
pub use log_batch::{
    corrected_ts, log_key, skew_offset, DecodeError, LogBatch, LOG_FORMAT_VERSION, MAX_SKEW_MS,
};
pub use reason::{DropReason, RejectReason};
pub use time::fmt_ms;
pub use validate::{
    parse_batch, parse_event, parse_event_json, truncate_utf8, valid_sid, Dropped, EventError, Limits,
    ParsedBatch, Rejection, Truncated, MAX_SEL_BYTES, MAX_SEQ, MAX_TS,
};
