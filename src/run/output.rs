//! Where output goes: standard output, or a file written atomically ([`Output`]); and a printer
//! writing a run's results there as they come ([`Printout`]).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::ResultSink;
use crate::report::printer::{self, Printer};
use crate::report::{Format, RunReport, TargetResult};

/// Why output could not be written. Messages name the destination.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    #[error("cannot write {what} {path}: the directory {dir} does not exist")]
    NoDirectory {
        what: &'static str,
        path: String,
        dir: String,
    },
    #[error("cannot write {what} {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write to standard output: {0}")]
    Stdout(#[source] std::io::Error),
}

/// Standard output, or a file. A file is written through a temporary file in the same directory,
/// created when the output is opened (before any probing, so an unwritable destination fails fast)
/// and renamed into place at the end, so a crash never leaves half a report.
#[derive(Debug)]
pub struct Output {
    file: Option<(PathBuf, tempfile::NamedTempFile)>,
    /// How the file is named in errors ("--output", "baseline").
    what: &'static str,
}

impl Output {
    /// `path`, or standard output; the file is named "--output" in errors.
    pub fn open(path: Option<&Path>) -> Result<Self, OutputError> {
        Self::open_as(path, "--output")
    }

    /// Like `open`, naming the file as `what` in errors (e.g. "baseline").
    pub fn open_as(path: Option<&Path>, what: &'static str) -> Result<Self, OutputError> {
        let Some(path) = path else {
            return Ok(Self { file: None, what });
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(OutputError::NoDirectory {
                what,
                path: path.display().to_string(),
                dir: dir.display().to_string(),
            });
        }
        // The temporary file's own name means nothing to the user; report the destination.
        let temp = tempfile::Builder::new()
            .prefix(".pinscope-")
            .tempfile_in(&dir)
            .map_err(|e| OutputError::File {
                what,
                path: path.display().to_string(),
                source: std::io::Error::from(e.kind()),
            })?;
        Ok(Self {
            file: Some((path.to_path_buf(), temp)),
            what,
        })
    }

    /// Whether this is standard output, and standard output is a terminal.
    pub fn is_terminal(&self) -> bool {
        self.file.is_none() && std::io::stdout().is_terminal()
    }

    fn file_error(&self, path: &Path, source: std::io::Error) -> OutputError {
        OutputError::File {
            what: self.what,
            path: path.display().to_string(),
            source,
        }
    }

    /// Writes `text` as the whole output and puts a file in place.
    pub fn write(self, text: &str) -> Result<(), OutputError> {
        self.write_with(|out| out.write_all(text.as_bytes()))
    }

    /// Writes what `produce` writes, through a buffer, then puts a file in place. A closed stdout
    /// pipe (`pinscope … | head`) is not an error.
    pub fn write_with(
        self,
        produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), OutputError> {
        match &self.file {
            None => {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                match produce(&mut out).and_then(|()| out.flush()) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                        Err(OutputError::Stdout(e))
                    }
                    _ => Ok(()),
                }
            }
            Some((path, temp)) => {
                let mut out = std::io::BufWriter::new(temp.as_file());
                produce(&mut out)
                    .and_then(|()| out.flush())
                    .map_err(|e| self.file_error(path, e))?;
                drop(out);
                self.finish()
            }
        }
    }

    /// Writes what `produce` writes now: to standard output at once (flushed; failures there are
    /// not reported, as for a closed pipe), or to the temporary file.
    pub fn append_with(
        &mut self,
        produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), OutputError> {
        match &mut self.file {
            None => {
                let mut out = std::io::stdout().lock();
                let _ = produce(&mut out).and_then(|()| out.flush());
                Ok(())
            }
            Some((path, temp)) => {
                let written = produce(temp).and_then(|()| temp.flush());
                let path = path.clone();
                written.map_err(|e| self.file_error(&path, e))
            }
        }
    }

    /// Puts the file in place (nothing to do for standard output).
    pub fn finish(self) -> Result<(), OutputError> {
        if let Some((path, temp)) = self.file {
            temp.persist(&path).map_err(|e| OutputError::File {
                what: self.what,
                path: path.display().to_string(),
                source: e.error,
            })?;
        }
        Ok(())
    }
}

/// A printer writing to an output: what the audit streams its results into. A failed write stops
/// further writing; [`Printout::finish`] reports it, and the caller can still print the whole run
/// elsewhere with [`print_to_stdout`]. A run that did not stream (a sink that does not, such as
/// [`super::AtTheEnd`]) is printed whole at the end.
pub struct Printout {
    printer: Box<dyn Printer>,
    output: Output,
    /// Whether the printer has begun and been given targets as they finished.
    streamed: bool,
    failed: Option<OutputError>,
}

impl Printout {
    /// The printer for `format` writing to `output`.
    pub fn new(format: Format, color: bool, output: Output) -> Self {
        Self {
            printer: printer::printer(format, color),
            output,
            streamed: false,
            failed: None,
        }
    }

    /// Writes the finished run (all of it, or what a streaming printer has left) and puts the
    /// output in place.
    pub fn finish(self, run: &RunReport) -> Result<(), OutputError> {
        let Self {
            mut printer,
            output,
            streamed,
            failed,
        } = self;
        if let Some(e) = failed {
            return Err(e);
        }
        if streamed {
            output.write_with(|out| printer.finish(run, out))
        } else {
            output.write_with(|out| printer::print(printer.as_mut(), run, out))
        }
    }
}

impl ResultSink for Printout {
    fn streams(&self) -> bool {
        self.printer.streams()
    }

    fn target(&mut self, result: &TargetResult) {
        if self.failed.is_some() || !self.printer.streams() {
            return;
        }
        let Self {
            printer,
            output,
            streamed,
            ..
        } = self;
        let begin = !*streamed;
        *streamed = true;
        self.failed = output
            .append_with(|out| {
                if begin {
                    printer.begin(out)?;
                }
                printer.target(result, out)
            })
            .err();
    }
}

/// Prints the whole run to standard output: what is left to do when the output could not be
/// written, so the results are not lost.
pub fn print_to_stdout(format: Format, color: bool, run: &RunReport) {
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let mut printer = printer::printer(format, color);
    let _ = printer::print(printer.as_mut(), run, &mut stdout).and_then(|()| stdout.flush());
}

/// Writes to standard output; a closed pipe (`pinscope … | head`) is not an error worth reporting.
pub fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
