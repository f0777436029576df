//! Printing: human text or JSON Lines, and a closed pipe that is not an error.

use std::io::{self, BufWriter, Stdout, Write};

use serde::Serialize;
pub use ufse_schema::fmt_ms;

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
