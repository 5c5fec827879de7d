//! Where output goes: standard output, or a file (replaced atomically, or written through a link,
//! a FIFO or a device) ([`Output`]); and a printer
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

/// Where the output goes.
#[derive(Debug)]
enum Destination {
    /// Standard output (no path, or `-`).
    Stdout,
    /// A regular file (or a new path): written through a temporary file in the same directory and
    /// renamed into place at the end, so a crash never leaves half a report.
    Replace {
        path: PathBuf,
        temp: tempfile::NamedTempFile,
    },
    /// A FIFO, a character device, or anything else that is not a regular file: opened and
    /// written directly (renaming over it would destroy it).
    Direct(std::fs::File),
}

/// Standard output, or a file. A regular file (or a new path) is written through a temporary file
/// in the same directory, created when the output is opened (before any probing, so an unwritable
/// destination fails fast) and renamed into place at the end, so a crash never leaves half a
/// report. A symbolic link is followed: its target is written and the link kept. A FIFO or a
/// character device is opened and written directly. `-` is standard output. A new file's mode
/// follows the umask; a replaced file keeps its mode.
#[derive(Debug)]
pub struct Output {
    dest: Destination,
    /// How the file is named in errors ("--output", "baseline").
    what: &'static str,
    /// The path as the user wrote it, for errors.
    shown: String,
}

impl Output {
    /// `path`, or standard output; the file is named "--output" in errors.
    pub fn open(path: Option<&Path>) -> Result<Self, OutputError> {
        Self::open_as(path, "--output")
    }

    /// Like `open`, naming the file as `what` in errors (e.g. "baseline").
    pub fn open_as(path: Option<&Path>, what: &'static str) -> Result<Self, OutputError> {
        let stdout = Self {
            dest: Destination::Stdout,
            what,
            shown: "standard output".into(),
        };
        let Some(path) = path else {
            return Ok(stdout);
        };
        if path.as_os_str() == "-" {
            return Ok(stdout);
        }
        let shown = path.display().to_string();
        let file_error = |source: std::io::Error| OutputError::File {
            what,
            path: shown.clone(),
            source,
        };
        // Follow a symbolic link to what it names, so the link is kept and its target written.
        // A dangling link is written through (creating its target).
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        let resolved = if is_link {
            std::fs::canonicalize(path).ok()
        } else {
            Some(path.to_path_buf())
        };
        let existing = resolved.as_deref().and_then(|p| std::fs::metadata(p).ok());
        // Names under /dev and /proc (`/dev/stdout`, `/dev/fd/3`, `/proc/self/fd/1`) stand for
        // open descriptors or devices: written in place, even when they lead to a regular file
        // (which a shell may have opened for appending).
        let special = path.starts_with("/dev") || path.starts_with("/proc");
        let direct = match (&resolved, &existing) {
            (None, _) => true,
            (Some(_), Some(m)) if special && !m.is_dir() => true,
            (Some(_), Some(m)) if m.is_dir() => {
                return Err(file_error(std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "it is a directory",
                )));
            }
            (Some(_), Some(m)) => !m.is_file(),
            (Some(_), None) => false,
        };
        if direct {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                // A regular file reached through /dev or /proc was opened by whoever handed it
                // over (perhaps for appending): append to it, never truncate.
                .append(special && existing.as_ref().is_some_and(std::fs::Metadata::is_file))
                .truncate(!special && existing.as_ref().is_none_or(std::fs::Metadata::is_file))
                .open(path)
                .map_err(file_error)?;
            return Ok(Self {
                dest: Destination::Direct(file),
                what,
                shown,
            });
        }
        let target = resolved.unwrap_or_else(|| path.to_path_buf());
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(OutputError::NoDirectory {
                what,
                path: shown,
                dir: dir.display().to_string(),
            });
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix(".pinscope-");
        // A replaced file keeps its mode; a new one gets 0666 less the umask (the kernel applies
        // the umask when the file is created), as any other tool's output would.
        match &existing {
            Some(m) => {
                builder.permissions(m.permissions());
            }
            None => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt as _;
                    builder.permissions(std::fs::Permissions::from_mode(0o666));
                }
            }
        }
        // The temporary file's own name means nothing to the user; report the destination.
        let temp = match builder.tempfile_in(&dir) {
            Ok(temp) => temp,
            // A file that may be written in a directory that may not (a shared log folder): write
            // the file in place, as a shell's redirection would, rather than refuse.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && existing.is_some() => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&target)
                    .map_err(file_error)?;
                return Ok(Self {
                    dest: Destination::Direct(file),
                    what,
                    shown,
                });
            }
            Err(e) => return Err(file_error(std::io::Error::from(e.kind()))),
        };
        if let Some(m) = &existing {
            // The mode given at creation is filtered by the umask; set the old one exactly.
            let _ = temp.as_file().set_permissions(m.permissions());
        }
        Ok(Self {
            dest: Destination::Replace { path: target, temp },
            what,
            shown,
        })
    }

    /// Whether this is standard output, and standard output is a terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(self.dest, Destination::Stdout) && std::io::stdout().is_terminal()
    }

    fn file_error(&self, source: std::io::Error) -> OutputError {
        OutputError::File {
            what: self.what,
            path: self.shown.clone(),
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
        let written = match &self.dest {
            Destination::Stdout => {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                return match produce(&mut out).and_then(|()| out.flush()) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                        Err(OutputError::Stdout(e))
                    }
                    _ => Ok(()),
                };
            }
            Destination::Replace { temp, .. } => {
                let mut out = std::io::BufWriter::new(temp.as_file());
                produce(&mut out).and_then(|()| out.flush())
            }
            Destination::Direct(file) => {
                let mut out = std::io::BufWriter::new(file);
                produce(&mut out).and_then(|()| out.flush())
            }
        };
        written.map_err(|e| self.file_error(e))?;
        self.finish()
    }

    /// Writes what `produce` writes now: to standard output at once (flushed; failures there are
    /// not reported, as for a closed pipe), or to the file.
    pub fn append_with(
        &mut self,
        produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), OutputError> {
        let written = match &mut self.dest {
            Destination::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = produce(&mut out).and_then(|()| out.flush());
                return Ok(());
            }
            Destination::Replace { temp, .. } => produce(temp).and_then(|()| temp.flush()),
            Destination::Direct(file) => produce(file).and_then(|()| file.flush()),
        };
        written.map_err(|e| self.file_error(e))
    }

    /// Puts the file in place (nothing to do for standard output or a file written directly).
    pub fn finish(self) -> Result<(), OutputError> {
        match self.dest {
            Destination::Replace { path, temp } => {
                temp.persist(&path).map_err(|e| OutputError::File {
                    what: self.what,
                    path: self.shown,
                    source: e.error,
                })?;
            }
            // Written as it went: nothing to put in place.
            Destination::Direct(_) => {}
            Destination::Stdout => {}
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
