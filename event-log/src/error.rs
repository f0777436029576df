//! The crate's single error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong when appending to, reading from or managing the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The bounded hand-off queue to the writer is full; the caller should shed load (HTTP 503).
    #[error("log hand-off queue is full")]
    Full,
    /// The log was closed (or its writer has stopped) and accepts no more appends.
    #[error("log is closed")]
    Closed,
    /// The writer stopped after an earlier i/o failure; the log must be reopened (which recovers).
    #[error("log writer stopped after an earlier failure: {0}")]
    Poisoned(String),
    /// A remote log (Kafka) did not confirm the record in time or refused it; the caller should
    /// answer 503 and let the client retry.
    #[error("log unavailable: {0}")]
    Unavailable(String),
    /// An operating-system error on the named file or directory.
    #[error("i/o error on {path}")]
    Io {
        /// The file or directory being accessed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Durable data that does not decode (bad CRC, unexpected offset, unparsable meta or offset file).
    #[error("corrupt data in {path}: {detail}")]
    Corrupt {
        /// The offending file.
        path: PathBuf,
        /// What was wrong and where.
        detail: String,
    },
    /// Invalid configuration, or a directory created with a different configuration.
    #[error("invalid log configuration: {0}")]
    Config(String),
    /// A record the log refuses to store (empty or oversized key, oversized payload).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// A consumer-group name that cannot be used as a file name.
    #[error("invalid consumer group name {0:?}")]
    InvalidGroup(String),
    /// The embedded log allows one live member per consumer group.
    #[error("consumer group {0:?} already has a live member")]
    GroupInUse(String),
    /// A partition number at or above the partition count.
    #[error("partition {partition} does not exist (the log has {partitions})")]
    UnknownPartition {
        /// The requested partition.
        partition: u32,
        /// The log's partition count.
        partitions: u32,
    },
    /// A seek or commit past the durable end of a partition.
    #[error("offset {offset} is beyond the durable end {end} of partition {partition}")]
    OffsetOutOfRange {
        /// The partition.
        partition: u32,
        /// The requested offset.
        offset: u64,
        /// The partition's durable end (next offset to be written).
        end: u64,
    },
}

impl LogError {
    /// Wraps an `io::Error` with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        LogError::Io { path: path.into(), source }
    }

    /// Builds a `Corrupt` error for `path`.
    pub(crate) fn corrupt(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        LogError::Corrupt { path: path.into(), detail: detail.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_error_names_path_and_keeps_source() {
        let e = LogError::io("/tmp/x/p-0", io::Error::other("disk on fire"));
        assert_eq!(e.to_string(), "i/o error on /tmp/x/p-0");
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("disk on fire"));
    }

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let all = [
            LogError::Full,
            LogError::Closed,
            LogError::Poisoned("x".into()),
            LogError::corrupt("/a", "bad crc"),
            LogError::Config("partitions must be > 0".into()),
            LogError::InvalidRecord("empty key".into()),
            LogError::InvalidGroup("a/b".into()),
            LogError::GroupInUse("g".into()),
            LogError::UnknownPartition { partition: 9, partitions: 4 },
            LogError::OffsetOutOfRange { partition: 1, offset: 10, end: 3 },
        ];
        for e in all {
            let msg = e.to_string();
            assert!(msg.chars().next().is_some_and(|c| c.is_lowercase()), "{msg}");
            assert!(!msg.ends_with('.'), "{msg}");
        }
    }
}
