//! Stable snake_case reasons for everything the pipeline rejects or drops.
//!
//! Every rejected batch and every dropped event gets exactly one of these;
//! the same string is the HTTP error body's `reason` and the metric label.

use std::fmt;

/// Why a whole request was refused (a non-2xx answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// The body is not valid JSON (this includes invalid UTF-8 and raw control characters).
    InvalidJson,
    /// The body looked like gzip but did not inflate (truncated or corrupt).
    InvalidGzip,
    /// The body is empty.
    EmptyBody,
    /// The top level is not a JSON object.
    NotAnObject,
    /// `v` is missing.
    MissingVersion,
    /// `v` is not 1.
    UnsupportedVersion,
    /// `sid` is missing.
    MissingSid,
    /// `sid` is not 1 to 128 characters of `[A-Za-z0-9_.:-]`.
    BadSid,
    /// `uid` is not a string of at most 256 characters.
    BadUid,
    /// `sent_at` is not a plausible integer millisecond time.
    BadSentAt,
    /// `dropped` is not a non-negative integer.
    BadDropped,
    /// `ctx` is not an object.
    BadCtx,
    /// `events` is missing.
    MissingEvents,
    /// `events` is not an array.
    BadEvents,
    /// The compressed body is over the byte limit.
    BodyTooLarge,
    /// The decompressed body is over the byte limit.
    DecompressedTooLarge,
    /// Over the events-per-batch limit.
    TooManyEvents,
    /// A `Content-Encoding` other than gzip or identity.
    UnsupportedEncoding,
    /// No write key in the header or the query string.
    MissingKey,
    /// The write key is not known.
    UnknownKey,
    /// The write key was revoked.
    RevokedKey,
    /// The origin is not allowed for this project.
    OriginNotAllowed,
    /// The key's token bucket is empty.
    RateLimitedKey,
    /// The client address's token bucket is empty.
    RateLimitedClient,
    /// The hand-off queue to the log is full.
    Overloaded,
    /// The log could not make the batch durable.
    LogUnavailable,
    /// The key could not be checked (the project store failed).
    StoreUnavailable,
    /// The server is starting or draining.
    NotReady,
    /// Unknown path.
    NotFound,
    /// Known path, wrong method.
    MethodNotAllowed,
}

impl RejectReason {
    /// The stable name, used in bodies and metric labels.
    pub fn as_str(self) -> &'static str {
        use RejectReason::*;
        match self {
            InvalidJson => "invalid_json",
            InvalidGzip => "invalid_gzip",
            EmptyBody => "empty_body",
            NotAnObject => "not_an_object",
            MissingVersion => "missing_version",
            UnsupportedVersion => "unsupported_version",
            MissingSid => "missing_sid",
            BadSid => "bad_sid",
            BadUid => "bad_uid",
            BadSentAt => "bad_sent_at",
            BadDropped => "bad_dropped",
            BadCtx => "bad_ctx",
            MissingEvents => "missing_events",
            BadEvents => "bad_events",
            BodyTooLarge => "body_too_large",
            DecompressedTooLarge => "decompressed_too_large",
            TooManyEvents => "too_many_events",
            UnsupportedEncoding => "unsupported_encoding",
            MissingKey => "missing_key",
            UnknownKey => "unknown_key",
            RevokedKey => "revoked_key",
            OriginNotAllowed => "origin_not_allowed",
            RateLimitedKey => "rate_limited_key",
            RateLimitedClient => "rate_limited_client",
            Overloaded => "overloaded",
            LogUnavailable => "log_unavailable",
            StoreUnavailable => "store_unavailable",
            NotReady => "not_ready",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one event was dropped while its batch was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The event is not a JSON object.
    EventNotObject,
    /// `t` is missing.
    MissingKind,
    /// `t` is not a non-empty string.
    BadKind,
    /// `ts` is missing.
    MissingTs,
    /// `ts` is not an integer in `0..=MAX_TS`.
    BadTs,
    /// `seq` is missing.
    MissingSeq,
    /// `seq` is not an integer in `1..=MAX_SEQ`.
    BadSeq,
    /// A field the kind requires is missing (the field is named beside the reason).
    MissingField,
    /// A known field has the wrong type or an out-of-range value.
    BadField,
    /// A field is over its own length limit (a `sel` over 512 bytes).
    FieldTooLong,
    /// Same `(project, sid, seq)` and same content as a stored event (acknowledged, not stored).
    Duplicate,
    /// Same `(project, sid, seq)` as a stored event with different content (acknowledged, not stored).
    SeqConflict,
    /// Arrived after the session's reorder bound had passed its time (stored, not evaluated).
    Late,
}

impl DropReason {
    /// The stable name, used in bodies and metric labels.
    pub fn as_str(self) -> &'static str {
        use DropReason::*;
        match self {
            EventNotObject => "event_not_object",
            MissingKind => "missing_kind",
            BadKind => "bad_kind",
            MissingTs => "missing_ts",
            BadTs => "bad_ts",
            MissingSeq => "missing_seq",
            BadSeq => "bad_seq",
            MissingField => "missing_field",
            BadField => "bad_field",
            FieldTooLong => "field_too_long",
            Duplicate => "duplicate",
            SeqConflict => "seq_conflict",
            Late => "late",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
