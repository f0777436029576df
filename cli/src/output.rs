//! Printing: human text or JSON Lines, and a closed pipe that is not an error.

use std::io::{self, BufWriter, Stdout, Write};

use serde::Serialize;

/// True when the error is stdout's reader having gone away.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

/// Buffered stdout.
pub struct Out {
    /// `--json` was given.
    pub json: bool,
    w: BufWriter<Stdout>,
}

impl Out {
    pub fn new(json: bool) -> Self {
        Out { json, w: BufWriter::new(io::stdout()) }
    }

    /// One JSON object on its own line.
    pub fn json_line<T: Serialize>(&mut self, v: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, v)?;
        self.w.write_all(b"\n")
    }

    /// One line of text.
    pub fn line(&mut self, s: impl AsRef<str>) -> io::Result<()> {
        self.w.write_all(s.as_ref().as_bytes())?;
        self.w.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// A millisecond timestamp as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
pub fn fmt_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(fmt_ms(0), "1970-01-01 00:00:00.000");
        assert_eq!(fmt_ms(1_732_750_000_123), "2024-11-27 23:26:40.123");
        assert_eq!(fmt_ms(951_782_400_000), "2000-02-29 00:00:00.000");
    }
}
