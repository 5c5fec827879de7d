//! Reading the files a user hands over: certificate files (PEM or DER) and target lists, `-` being
//! standard input. Every error names the file (or "standard input"), and the line where there is
//! one, and says what is wrong in words.

pub mod exemptions;

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::error::X509Error;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::model::target::{TargetError, parse_spec};

/// Why an input file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Certificates { path: String, reason: String },
    #[error("{path} is not UTF-8 text (line {line})")]
    NotText { path: String, line: usize },
    /// Every bad line of a targets file, each once with its line number.
    #[error("{}", bad_lines(path, lines))]
    Targets {
        path: String,
        lines: Vec<(usize, TargetError)>,
    },
}

fn bad_lines(path: &str, lines: &[(usize, TargetError)]) -> String {
    lines
        .iter()
        .map(|(line, e)| format!("{path}:{line}: {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The path that names standard input.
pub const STDIN: &str = "-";

/// The bytes of `path` (standard input for `-`) and how it is named in errors.
fn read_input(path: &Path) -> Result<(Vec<u8>, String), InputError> {
    if path.as_os_str() == STDIN {
        let shown = "standard input".to_owned();
        let mut bytes = Vec::new();
        return match std::io::stdin().lock().read_to_end(&mut bytes) {
            Ok(_) => Ok((bytes, shown)),
            Err(source) => Err(InputError::Read {
                path: shown,
                source,
            }),
        };
    }
    let shown = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => Ok((bytes, shown)),
        Err(source) => Err(InputError::Read {
            path: shown,
            source,
        }),
    }
}

/// Certificates from a PEM file (every CERTIFICATE block, in order) or a single DER certificate;
/// `-` is standard input.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, InputError> {
    let (bytes, shown) = read_input(path)?;
    certs_from_bytes(bytes, &shown)
}

/// Certificates from the bytes of a PEM file or a single DER certificate; `shown` names the file
/// in errors.
pub fn certs_from_bytes(
    bytes: Vec<u8>,
    shown: &str,
) -> Result<Vec<CertificateDer<'static>>, InputError> {
    let bad = |reason: String| InputError::Certificates {
        path: shown.to_owned(),
        reason,
    };
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("malformed PEM: {}", pem_words(&e))))?;
        if certs.is_empty() {
            return Err(bad("no CERTIFICATE blocks in this PEM file".into()));
        }
        for (i, cert) in certs.iter().enumerate() {
            if let Err(e) = X509Certificate::from_der(cert.as_ref()) {
                return Err(bad(format!(
                    "certificate {} is not valid X.509: {}",
                    i + 1,
                    x509_words(&e)
                )));
            }
        }
        return Ok(certs);
    }
    match X509Certificate::from_der(&bytes) {
        Ok(_) => Ok(vec![CertificateDer::from(bytes)]),
        Err(_) if bytes.is_empty() => Err(bad("the file is empty".into())),
        Err(e) => Err(bad(format!(
            "neither PEM (no '-----BEGIN' line) nor a DER certificate ({})",
            x509_words(&e)
        ))),
    }
}

/// What is wrong with a PEM file, in words.
fn pem_words(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { .. } => {
            "a '-----BEGIN' line has no matching '-----END' line".into()
        }
        Error::IllegalSectionStart { .. } => "a '-----BEGIN' line is malformed".into(),
        Error::Base64Decode(_) => "a block's base64 text is corrupt".into(),
        Error::NoItemsFound => "no PEM blocks".into(),
        other => other.to_string(),
    }
}

/// What is wrong with a DER certificate, in words (the parser's own errors are debugging text).
fn x509_words(e: &x509_parser::nom::Err<X509Error>) -> String {
    use x509_parser::nom::Err;
    match e {
        Err::Incomplete(_) => "the data ends before the certificate does (truncated)".into(),
        Err::Error(x) | Err::Failure(x) => match x {
            X509Error::Der(_) | X509Error::NomError(_) | X509Error::Generic => {
                "the bytes are not a DER-encoded certificate (truncated or corrupt)".into()
            }
            other => other.to_string(),
        },
    }
}

/// `host[:port]` lines (or URLs, see [`parse_spec`]); blank lines and `#` comments (whole-line or
/// trailing) are skipped, and a UTF-8 byte order mark is ignored; `-` is standard input. Every bad
/// line is reported, each once, with its number.
pub fn read_targets_file(path: &Path) -> Result<Vec<(String, u16)>, InputError> {
    let (bytes, shown) = read_input(path)?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(InputError::NotText { path: shown, line });
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        match parse_spec(content) {
            Ok(spec) => out.push(spec),
            Err(e) => bad.push((i + 1, e)),
        }
    }
    if !bad.is_empty() {
        return Err(InputError::Targets {
            path: shown,
            lines: bad,
        });
    }
    Ok(out)
}

/// A targets file read in passes, so a run over millions of lines never holds them: [`check`]
/// reads it first, keeping only the bad lines (to report them all before anything is probed), how
/// many targets it names and which lines repeat an earlier one; [`TargetsFile::specs`] reads it
/// again, line by line, as the run takes targets.
#[derive(Clone, Debug)]
pub struct TargetsFile {
    path: PathBuf,
    /// Distinct targets the file names.
    pub count: usize,
    /// Lines (1-based, ascending) that repeat an earlier line's target: skipped when read again.
    duplicates: Vec<usize>,
}

/// Checks a targets file (not standard input, which cannot be read twice: see
/// [`read_targets_file`]) as [`read_targets_file`] does, keeping nothing but what it reports:
/// every bad line, each once with its number. Repeated targets are found without keeping the
/// names: a Bloom filter of one bit per byte of the file (an eighth of its size) flags the
/// targets that may have come before, and only when some are flagged does a second read find,
/// among the flagged ones alone, which lines truly repeat an earlier one.
pub fn check(path: &Path) -> Result<TargetsFile, InputError> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut filter = Bloom::new(usize::try_from(size).unwrap_or(usize::MAX));
    let mut lines = Lines::open(path)?;
    let mut maybe_seen: HashSet<(String, u16)> = HashSet::new();
    let mut bad = Vec::new();
    let mut good = 0;
    while let Some((number, parsed)) = lines.next_spec()? {
        match parsed {
            Ok(spec) => {
                good += 1;
                if filter.insert(fingerprint(&spec)) {
                    maybe_seen.insert(spec);
                }
            }
            Err(e) => bad.push((number, e)),
        }
    }
    if !bad.is_empty() {
        return Err(InputError::Targets {
            path: lines.shown,
            lines: bad,
        });
    }
    drop(filter);
    let mut duplicates = Vec::new();
    if !maybe_seen.is_empty() {
        // The flagged targets' first lines are not repeats; their later lines are.
        let mut first = HashSet::new();
        let mut again = Lines::open(path)?;
        while let Some((number, parsed)) = again.next_spec()? {
            if let Ok(spec) = parsed
                && maybe_seen.contains(&spec)
                && !first.insert(spec)
            {
                duplicates.push(number);
            }
        }
    }
    Ok(TargetsFile {
        path: path.to_owned(),
        count: good - duplicates.len(),
        duplicates,
    })
}

/// A Bloom filter: says whether something may have been inserted before (never "no" wrongly).
struct Bloom {
    bits: Vec<u64>,
}

impl Bloom {
    /// Hash positions per item: with one bit per byte of a targets file (lines of 6 bytes or
    /// more), a few per cent of targets at worst are flagged wrongly, and then only checked again.
    const PROBES: u64 = 3;

    fn new(bits: usize) -> Self {
        Self {
            bits: vec![0; bits.max(4096) / 64 + 1],
        }
    }

    /// Inserts `(h1, h2)`; whether all its bits were set already (it may have been inserted).
    fn insert(&mut self, (h1, h2): (u64, u64)) -> bool {
        let m = (self.bits.len() * 64) as u64;
        let mut seen = true;
        for i in 0..Self::PROBES {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % m;
            let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
            if let Some(w) = self.bits.get_mut(word) {
                seen &= *w & mask != 0;
                *w |= mask;
            }
        }
        seen
    }
}

impl TargetsFile {
    /// The file's targets, read again line by line, without the repeated ones. A line that no
    /// longer parses (the file changed since [`check`]) is left out; a read error ends the list
    /// with that error.
    pub fn specs(&self) -> impl Iterator<Item = Result<(String, u16), InputError>> + use<> {
        let (mut lines, mut failed) = match Lines::open(&self.path) {
            Ok(l) => (Some(l), None),
            Err(e) => (None, Some(e)),
        };
        let mut duplicates = self.duplicates.clone().into_iter().peekable();
        std::iter::from_fn(move || {
            if let Some(e) = failed.take() {
                return Some(Err(e));
            }
            loop {
                match lines.as_mut()?.next_spec() {
                    Ok(None) => return None,
                    Err(e) => {
                        // Nothing more is read after an error.
                        lines = None;
                        return Some(Err(e));
                    }
                    Ok(Some((number, parsed))) => {
                        while duplicates.next_if(|&d| d < number).is_some() {}
                        if duplicates.next_if_eq(&number).is_some() {
                            continue;
                        }
                        if let Ok(spec) = parsed {
                            return Some(Ok(spec));
                        }
                    }
                }
            }
        })
    }
}

/// Two independent 64-bit hashes of a target, for the Bloom filter's positions.
fn fingerprint(spec: &(String, u16)) -> (u64, u64) {
    let hash = |salt: u8| {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        spec.hash(&mut h);
        h.finish()
    };
    (hash(0), hash(1))
}

/// A targets file's lines one at a time, as [`read_targets_file`] reads them.
struct Lines {
    reader: BufReader<std::fs::File>,
    shown: String,
    number: usize,
    buf: Vec<u8>,
}

impl Lines {
    fn open(path: &Path) -> Result<Self, InputError> {
        let shown = path.display().to_string();
        match std::fs::File::open(path) {
            Ok(file) => Ok(Self {
                reader: BufReader::new(file),
                shown,
                number: 0,
                buf: Vec::new(),
            }),
            Err(source) => Err(InputError::Read {
                path: shown,
                source,
            }),
        }
    }

    /// The next line that names a target (blank lines and comments skipped), with its number and
    /// what it parses to.
    #[allow(clippy::type_complexity)]
    fn next_spec(
        &mut self,
    ) -> Result<Option<(usize, Result<(String, u16), TargetError>)>, InputError> {
        loop {
            self.buf.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| InputError::Read {
                    path: self.shown.clone(),
                    source,
                })?;
            if read == 0 {
                return Ok(None);
            }
            self.number += 1;
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                return Err(InputError::NotText {
                    path: self.shown.clone(),
                    line: self.number,
                });
            };
            let text = if self.number == 1 {
                text.strip_prefix('\u{feff}').unwrap_or(text)
            } else {
                text
            };
            let content = text.split('#').next().unwrap_or("").trim();
            if !content.is_empty() {
                return Ok(Some((self.number, parse_spec(content))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many distinct targets and a few repeats: the count and the second reading are exact
    /// whatever the Bloom filter flags wrongly.
    #[test]
    fn a_checked_file_is_read_again_without_its_repeats() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("targets.txt");
        let mut text: String = (0..5000).map(|i| format!("h{i}.test:443\n")).collect();
        text.push_str("h7.test:443\n# a comment\nH4999.test\n");
        std::fs::write(&path, text).expect("write the targets file");
        let file = check(&path).expect("a valid targets file");
        assert_eq!(file.count, 5000);
        let specs: Vec<(String, u16)> = file.specs().map(|s| s.expect("readable")).collect();
        assert_eq!(specs.len(), 5000);
        assert_eq!(specs[0], ("h0.test".to_owned(), 443));
        assert_eq!(specs[4999], ("h4999.test".to_owned(), 443));
        assert_eq!(file.duplicates, vec![5001, 5003]);
    }
}
