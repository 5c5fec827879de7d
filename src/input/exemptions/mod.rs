//! A team's own SSL-inspection exemption list, read for `pinscope exemptions check`: a plain or CSV
//! host list, the JSON `pinscope export` writes, a squid configuration, or a PAC file. Every
//! entry keeps the file and line it came from, and every error names them.
//!
//! Host patterns in plain, CSV and JSON lists mean:
//! - `apple.com`: that name only;
//! - `*.apple.com`: every name under apple.com, but not apple.com itself;
//! - `.apple.com`: apple.com and every name under it (as squid's `dstdomain` reads it);
//! - `*`: every name.
//!
//! Names are compared without regard to case, with a trailing dot dropped. `#` starts a comment
//! (plain lists and the lines of squid files); a UTF-8 byte-order mark is skipped.

mod squid;

use std::fmt;
use std::path::Path;

pub use squid::{Acl, AclKind, Action, Condition, Rule, SquidConfig};

/// The formats `exemptions check` reads (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// One host pattern per line.
    Plain,
    /// Comma-separated values: the `pattern` (or `host`, `domain`) column, or the first.
    Csv,
    /// A squid configuration: `acl … ssl::server_name|dstdomain` and `ssl_bump` rules.
    Squid,
    /// A proxy auto-config file: hosts it sends DIRECT are not inspected.
    Pac,
    /// `pinscope export --format json`: an array of `{"pattern": …}` (or of strings).
    Json,
    /// From the file's content, then its extension.
    Auto,
}

impl ListFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Csv => "csv",
            Self::Squid => "squid",
            Self::Pac => "pac",
            Self::Json => "json",
            Self::Auto => "auto",
        }
    }
}

/// Why an exemption list could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExemptionsError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A line that cannot be understood, with where it is.
    #[error("{origin}: {message}")]
    Invalid { origin: Origin, message: String },
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

/// Where an entry or a rule is: file and line (1-based).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A host pattern, as the list writes it (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: every name.
    Any,
    /// `host.example.com`.
    Exact(String),
    /// `*.example.com`: the names under `example.com` (the field), not itself.
    Subdomains(String),
    /// `.example.com`: `example.com` (the field) and the names under it.
    Domain(String),
}

impl Pattern {
    /// Reads one pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let lower = text.trim().to_ascii_lowercase();
        let lower = lower.strip_suffix('.').unwrap_or(&lower);
        if lower == "*" {
            return Ok(Self::Any);
        }
        let (make, name): (fn(String) -> Self, &str) = if let Some(rest) = lower.strip_prefix("*.")
        {
            (Self::Subdomains, rest)
        } else if let Some(rest) = lower.strip_prefix('.') {
            (Self::Domain, rest)
        } else {
            (Self::Exact, lower)
        };
        if name.is_empty() {
            return Err(format!("'{text}' names no domain"));
        }
        if name.contains('*') {
            return Err(format!(
                "'{text}': only a leading '*.' is understood as a wildcard"
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(format!("'{text}' is not a host name ('{c}')"));
        }
        if name.split('.').any(str::is_empty) {
            return Err(format!("'{text}' has an empty label"));
        }
        Ok(make(name.to_owned()))
    }

    /// Whether this pattern matches the concrete name `host` (lower case).
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(name) => host == name,
            Self::Subdomains(domain) => is_under(host, domain),
            Self::Domain(domain) => host == domain || is_under(host, domain),
        }
    }

    /// Whether this pattern matches every name under `domain` (the wildcard `*.domain`).
    pub fn covers_wildcard(&self, domain: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(_) => false,
            Self::Subdomains(d) | Self::Domain(d) => domain == d || is_under(domain, d),
        }
    }

    /// Why this pattern is dangerously broad, if it is: every name, or a whole top-level domain.
    pub fn broad(&self) -> Option<String> {
        match self {
            Self::Any => Some("matches every name".to_owned()),
            Self::Subdomains(d) | Self::Domain(d) if !d.contains('.') => {
                Some(format!("matches the whole top-level domain .{d}"))
            }
            _ => None,
        }
    }
}

/// Whether `host` is a proper subdomain of `domain`.
pub fn is_under(host: &str, domain: &str) -> bool {
    host.len() > domain.len() + 1
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
}

/// One host pattern of a list, as written, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub pattern: Pattern,
    /// The pattern as the file writes it.
    pub text: String,
    pub origin: Origin,
}

/// What a list says, by kind.
#[derive(Debug)]
pub enum ListKind {
    /// Plain, CSV or JSON: host patterns, each an exemption.
    Names(Vec<Entry>),
    /// A squid configuration: ACLs and `ssl_bump` rules.
    Squid(SquidConfig),
    /// A PAC file's text (evaluated by [`crate::pac`] where it is judged).
    Pac(String),
}

/// An exemption list, read.
#[derive(Debug)]
pub struct ExemptionList {
    /// The file as named on the command line.
    pub file: String,
    /// The format it was read as (never `Auto`).
    pub format: ListFormat,
    pub kind: ListKind,
}

/// Reads an exemption list (`-`: standard input) in the given format (`Auto`: detected).
pub fn read(path: &Path, format: ListFormat) -> Result<ExemptionList, ExemptionsError> {
    let shown = if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map_err(|source| {
            ExemptionsError::Read {
                path: shown.clone(),
                source,
            }
        })?;
        buf
    } else {
        std::fs::read(path).map_err(|source| ExemptionsError::Read {
            path: shown.clone(),
            source,
        })?
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        ExemptionsError::Invalid {
            origin: Origin {
                file: shown.clone(),
                line,
            },
            message: "not UTF-8 text".to_owned(),
        }
    })?;
    let dir = path.parent().filter(|_| path != Path::new("-"));
    parse(
        &text,
        &shown,
        dir,
        format,
        path.extension().and_then(|e| e.to_str()),
    )
}

/// Reads an exemption list from text. `dir` is where relative paths in it (squid's `"file"`
/// values) are found; `extension` helps `Auto` decide.
pub fn parse(
    text: &str,
    file: &str,
    dir: Option<&Path>,
    format: ListFormat,
    extension: Option<&str>,
) -> Result<ExemptionList, ExemptionsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        ListFormat::Auto => detect(text, extension),
        f => f,
    };
    let kind = match format {
        ListFormat::Plain => ListKind::Names(plain(text, file)?),
        ListFormat::Csv => ListKind::Names(csv(text, file)?),
        ListFormat::Json => ListKind::Names(json(text, file)?),
        ListFormat::Squid => ListKind::Squid(squid::parse(text, file, dir)?),
        ListFormat::Pac => {
            if !text.contains("FindProxyForURL") {
                return Err(ExemptionsError::File {
                    path: file.to_owned(),
                    message: "not a PAC file: no FindProxyForURL function".to_owned(),
                });
            }
            ListKind::Pac(text.to_owned())
        }
        // `detect` never answers Auto.
        ListFormat::Auto => ListKind::Names(plain(text, file)?),
    };
    Ok(ExemptionList {
        file: file.to_owned(),
        format,
        kind,
    })
}

/// The format of a list, from its content first, then its extension: a PAC defines
/// `FindProxyForURL`; a squid configuration has `acl` or `ssl_bump` lines; JSON starts with `[`;
/// a `.csv` file, or one whose first line has a comma, is CSV; anything else is plain.
pub fn detect(text: &str, extension: Option<&str>) -> ListFormat {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("//"))
        .collect();
    if text.contains("FindProxyForURL") {
        return ListFormat::Pac;
    }
    if lines
        .iter()
        .any(|l| l.starts_with("acl ") || l.starts_with("ssl_bump ") || l.starts_with("http_port "))
    {
        return ListFormat::Squid;
    }
    if lines.first().is_some_and(|l| l.starts_with('[')) {
        return ListFormat::Json;
    }
    match extension.map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => ListFormat::Csv,
        Some("pac" | "js") => ListFormat::Pac,
        Some("json") => ListFormat::Json,
        Some("conf") => ListFormat::Squid,
        _ if lines.first().is_some_and(|l| l.contains(',')) => ListFormat::Csv,
        _ => ListFormat::Plain,
    }
}

fn entry(text: &str, file: &str, line: usize) -> Result<Entry, ExemptionsError> {
    let origin = Origin {
        file: file.to_owned(),
        line,
    };
    match Pattern::parse(text) {
        Ok(pattern) => Ok(Entry {
            pattern,
            text: text.trim().to_owned(),
            origin,
        }),
        Err(message) => Err(ExemptionsError::Invalid { origin, message }),
    }
}

/// One pattern (or several, separated by blanks) per line; `#` starts a comment.
fn plain(text: &str, file: &str) -> Result<Vec<Entry>, ExemptionsError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("");
        for word in content.split_whitespace() {
            out.push(entry(word, file, i + 1)?);
        }
    }
    Ok(out)
}

/// The names a CSV header may give the pattern column.
const CSV_COLUMNS: [&str; 5] = ["pattern", "host", "hostname", "domain", "name"];

/// RFC 4180 records (quoted fields, `""` inside quotes); lines starting with `#` are comments.
/// The pattern column is the header's `pattern` (or `host`, `hostname`, `domain`, `name`);
/// without such a header, the first column, and the first line is data.
fn csv(text: &str, file: &str) -> Result<Vec<Entry>, ExemptionsError> {
    let records = csv_records(text, file)?;
    let mut column = 0;
    let mut rows = records.as_slice();
    if let Some((_, header)) = records.first()
        && let Some(at) = header
            .iter()
            .position(|h| CSV_COLUMNS.contains(&h.trim().to_ascii_lowercase().as_str()))
    {
        column = at;
        rows = &records[1..];
    }
    let mut out = Vec::new();
    for (line, fields) in rows {
        match fields.get(column).map(|f| f.trim()) {
            Some(value) if !value.is_empty() => out.push(entry(value, file, *line)?),
            _ => {}
        }
    }
    Ok(out)
}

type Record = (usize, Vec<String>);

fn csv_records(text: &str, file: &str) -> Result<Vec<Record>, ExemptionsError> {
    let mut records = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let start = line;
        if chars.peek() == Some(&'#') {
            for c in chars.by_ref() {
                if c == '\n' {
                    line += 1;
                    break;
                }
            }
            continue;
        }
        let mut fields = vec![String::new()];
        let mut quoted = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Err(ExemptionsError::Invalid {
                        origin: Origin {
                            file: file.to_owned(),
                            line: start,
                        },
                        message: "a quoted field is not closed".to_owned(),
                    });
                }
                break;
            };
            let field = fields.last_mut();
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    if let Some(f) = field {
                        f.push('"');
                    }
                }
                ('"', true) => quoted = false,
                ('"', false) if field.as_ref().is_some_and(|f| f.trim().is_empty()) => {
                    quoted = true;
                }
                (',', false) => fields.push(String::new()),
                ('\n', false) => {
                    line += 1;
                    break;
                }
                ('\r', false) => {}
                (c, _) => {
                    if c == '\n' {
                        line += 1;
                    }
                    if let Some(f) = field {
                        f.push(c);
                    }
                }
            }
        }
        if fields.iter().any(|f| !f.trim().is_empty()) {
            records.push((start, fields));
        }
    }
    Ok(records)
}

/// `pinscope export --format json`: an array of objects with a `pattern`, or of strings. Each
/// entry's line is where its pattern is written.
fn json(text: &str, file: &str) -> Result<Vec<Entry>, ExemptionsError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ExemptionsError::Invalid {
            origin: Origin {
                file: file.to_owned(),
                line: e.line().max(1),
            },
            message: format!("not JSON: {e}"),
        })?;
    let Some(items) = value.as_array() else {
        return Err(ExemptionsError::File {
            path: file.to_owned(),
            message: "expected a JSON array of exemptions".to_owned(),
        });
    };
    let mut out = Vec::new();
    let mut from = 0;
    for (i, item) in items.iter().enumerate() {
        let pattern = item
            .as_str()
            .or_else(|| item.get("pattern").and_then(|p| p.as_str()))
            .ok_or_else(|| ExemptionsError::File {
                path: file.to_owned(),
                message: format!("item {} has no \"pattern\" string", i + 1),
            })?;
        // Where the pattern is written: the next occurrence of its JSON string.
        let quoted = serde_json::to_string(pattern).unwrap_or_default();
        // Not found verbatim (written with escapes): the line of the last one found, and the
        // search goes on from there (never into the middle of a character).
        let at = text
            .get(from..)
            .and_then(|rest| rest.find(&quoted))
            .map(|p| from + p);
        if let Some(at) = at {
            from = at + quoted.len();
        }
        let at = at.unwrap_or(from);
        let line = text.get(..at).unwrap_or(text).matches('\n').count() + 1;
        out.push(entry(pattern, file, line)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_mean_what_the_module_says() {
        let p = |s: &str| Pattern::parse(s).expect("pattern");
        assert!(p("*.apple.com").matches("gdmf.apple.com"));
        assert!(!p("*.apple.com").matches("apple.com"));
        assert!(p(".apple.com").matches("apple.com"));
        assert!(p(".apple.com").matches("a.b.apple.com"));
        assert!(!p("apple.com").matches("gdmf.apple.com"));
        assert!(!p(".apple.com").matches("notapple.com"));
        assert!(p("GDMF.Apple.COM.").matches("gdmf.apple.com"));
        assert!(p("*.apple.com").covers_wildcard("push.apple.com"));
        assert!(p(".push.apple.com").covers_wildcard("push.apple.com"));
        assert!(!p("courier.push.apple.com").covers_wildcard("push.apple.com"));
        assert!(p("*").broad().is_some());
        assert!(p("*.com").broad().is_some());
        assert!(p(".com").broad().is_some());
        assert!(p("*.apple.com").broad().is_none());
        assert!(Pattern::parse("*apple.com").is_err());
        assert!(Pattern::parse("a..b").is_err());
        assert!(Pattern::parse("a b").is_err());
    }

    #[test]
    fn csv_finds_its_column_and_lines() {
        let text = "pattern,kind,ports\n\"*.push.apple.com\",wildcard,\"5223 443\"\n# note\ngdmf.apple.com,host,443\n";
        let entries = csv(text, "x.csv").expect("csv");
        let got: Vec<(String, usize)> = entries
            .iter()
            .map(|e| (e.text.clone(), e.origin.line))
            .collect();
        assert_eq!(
            got,
            [("*.push.apple.com".into(), 2), ("gdmf.apple.com".into(), 4)]
        );
    }

    #[test]
    fn detection_prefers_content() {
        assert_eq!(
            detect("function FindProxyForURL(u,h){}", None),
            ListFormat::Pac
        );
        assert_eq!(
            detect("# x\nacl a ssl::server_name .apple.com\n", Some("txt")),
            ListFormat::Squid
        );
        assert_eq!(detect("[\n]", None), ListFormat::Json);
        assert_eq!(detect("a.com\n", Some("csv")), ListFormat::Csv);
        assert_eq!(detect("a.com\n", None), ListFormat::Plain);
    }
}
