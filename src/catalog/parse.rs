//! Reading catalog TOML: the document's wire shape, and errors that name the file, line and field.

use std::ops::Range;

use rustls_pki_types::ServerName;
use serde::Deserialize;
use toml::Spanned;

use super::{Network, Probe, ProxySupport, Region, Row, Section, Source, TenantValues, Transport};

/// The catalog format version this build reads.
const FORMAT_VERSION: u32 = 1;
/// Bound on one `{A..B}` range, so a typo cannot ask for millions of rows.
const MAX_RANGE: u32 = 1000;

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    #[error("cannot read catalog {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}:{line}: {field}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        field: String,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    version: Spanned<u32>,
    #[serde(default)]
    source: Vec<WireSource>,
    #[serde(default)]
    section: Vec<WireSection>,
    #[serde(default)]
    entry: Vec<Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSource {
    id: String,
    #[serde(default)]
    file: String,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSection {
    id: String,
    title: String,
}

/// One `[[entry]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    ports: Spanned<Vec<u16>>,
    transport: Option<Transport>,
    transports: Option<Vec<Transport>>,
    #[serde(default)]
    os: Vec<String>,
    pub(super) section: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default = "unknown_proxy")]
    supports_proxy: ProxySupport,
    pub(super) source: Spanned<String>,
    #[serde(default)]
    legacy: bool,
    pattern: Option<Spanned<String>>,
    region: Option<Region>,
    note: Option<String>,
    tls_max: Option<Spanned<String>>,
    #[serde(default)]
    tls_ciphers: Vec<String>,
    probe: Option<Spanned<Probe>>,
    pinned_by: Option<String>,
    #[serde(default)]
    pub(super) networks: Vec<Spanned<RawNetwork>>,
}

/// One `networks = [{ cidr = "17.0.0.0/8", source = "…" }]` item.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    cidr: String,
    pub(super) source: String,
}

fn unknown_proxy() -> ProxySupport {
    ProxySupport::Unknown
}

/// A parsed catalog file, with enough of its text kept to turn byte offsets into line numbers.
pub(super) struct Document {
    origin: String,
    line_starts: Vec<usize>,
    pub(super) sections: Vec<Section>,
    pub(super) sources: Vec<Source>,
    pub(super) entries: Vec<Spanned<RawEntry>>,
}

impl Document {
    pub(super) fn parse(text: &str, origin: &str) -> Result<Self, CatalogError> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut doc = Self {
            origin: origin.to_owned(),
            line_starts,
            sections: Vec::new(),
            sources: Vec::new(),
            entries: Vec::new(),
        };
        let wire: Wire = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', " ");
            let field = field_name(text, span.start, &message);
            doc.error_at(span, &field, message)
        })?;
        if *wire.version.get_ref() != FORMAT_VERSION {
            return Err(doc.error_at(
                wire.version.span(),
                "version",
                format!(
                    "unsupported catalog version {} (this pinscope reads version {FORMAT_VERSION})",
                    wire.version.get_ref()
                ),
            ));
        }
        doc.sections = wire
            .section
            .into_iter()
            .map(|s| Section {
                id: s.id,
                title: s.title,
            })
            .collect();
        doc.sources = wire
            .source
            .into_iter()
            .map(|s| Source {
                id: s.id,
                file: s.file,
                title: s.title,
            })
            .collect();
        doc.entries = wire.entry;
        Ok(doc)
    }

    fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    pub(super) fn error_at(
        &self,
        span: Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> CatalogError {
        CatalogError::Invalid {
            origin: self.origin.clone(),
            line: self.line_of(span.start).max(1),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// The key a TOML error is about, so the one-line error can say "field: message" like the semantic
/// checks do. Missing and unknown keys are named in the message; for bad values the key is the one
/// assigned on the line the error points at.
fn field_name(text: &str, offset: usize, message: &str) -> String {
    if (message.starts_with("missing field") || message.starts_with("unknown field"))
        && let Some(name) = message.split('`').nth(1)
    {
        return name.to_owned();
    }
    let start = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line = text
        .get(start..)
        .and_then(|t| t.lines().next())
        .unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() => key.trim().trim_matches('"').to_owned(),
        _ => "entry".to_owned(),
    }
}

impl RawEntry {
    /// The concrete rows this entry stands for under the given tenant values.
    pub(super) fn rows(
        &self,
        entry_span: Range<usize>,
        doc: &Document,
        values: &TenantValues,
    ) -> Result<Vec<Row>, CatalogError> {
        let transports: Vec<Transport> = match (&self.transport, &self.transports) {
            (Some(t), None) => vec![*t],
            (None, Some(ts)) if !ts.is_empty() => ts.clone(),
            (Some(_), Some(_)) => {
                return Err(doc.error_at(
                    entry_span,
                    "transport",
                    "give either transport or transports, not both",
                ));
            }
            _ => {
                return Err(doc.error_at(
                    entry_span,
                    "transport",
                    "missing: one of \"tcp\", \"udp\", \"ssh\"",
                ));
            }
        };
        if self.ports.get_ref().is_empty() {
            return Err(doc.error_at(self.ports.span(), "ports", "at least one port is needed"));
        }
        if let Some(&zero) = self.ports.get_ref().iter().find(|&&p| p == 0) {
            return Err(doc.error_at(
                self.ports.span(),
                "ports",
                format!("port {zero} is not a usable port (1-65535)"),
            ));
        }
        if let Some(p) = &self.pattern {
            let body = p.get_ref().strip_prefix("*.").unwrap_or("");
            if body.is_empty() || ServerName::try_from(body).is_err() {
                return Err(doc.error_at(
                    p.span(),
                    "pattern",
                    format!("'{}' is not a wildcard like *.example.com", p.get_ref()),
                ));
            }
        }
        if let Some(v) = &self.tls_max
            && !["1.0", "1.1", "1.2", "1.3"].contains(&v.get_ref().as_str())
        {
            return Err(doc.error_at(
                v.span(),
                "tls_max",
                format!(
                    "'{}' is not a TLS version (1.0, 1.1, 1.2 or 1.3)",
                    v.get_ref()
                ),
            ));
        }
        if let Some(p) = &self.probe
            && let Some(t) = transports.iter().find(|t| !p.get_ref().fits(**t))
        {
            let wanted = match p.get_ref() {
                Probe::Ntp | Probe::Quic => "\"udp\"",
                Probe::Http | Probe::Tls | Probe::Ssh => "\"tcp\" or \"ssh\"",
            };
            return Err(doc.error_at(
                p.span(),
                "probe",
                format!("this probe needs transport {wanted}, not \"{t}\""),
            ));
        }
        let mut networks = Vec::new();
        for n in &self.networks {
            let raw = n.get_ref();
            networks.push(Network::parse(&raw.cidr, &raw.source).ok_or_else(|| {
                doc.error_at(
                    n.span(),
                    "networks",
                    format!("'{}' is not an address block like 17.0.0.0/8", raw.cidr),
                )
            })?);
        }
        if self.hosts.is_empty() && self.pattern.is_none() {
            return Err(doc.error_at(entry_span, "hosts", "an entry needs hosts or a pattern"));
        }
        if let Some(r) = self.region
            && values.region != Some(r)
        {
            return Ok(Vec::new());
        }

        let mut names = Vec::new();
        for host in &self.hosts {
            for name in
                expand_range(host.get_ref()).map_err(|m| doc.error_at(host.span(), "hosts", m))?
            {
                let filled = fill_template(&name, values)
                    .map_err(|m| doc.error_at(host.span(), "hosts", m))?;
                if let Some(filled) = filled {
                    if ServerName::try_from(filled.as_str()).is_err() {
                        return Err(doc.error_at(
                            host.span(),
                            "hosts",
                            format!("'{filled}' is not a valid host name"),
                        ));
                    }
                    names.push(filled.to_ascii_lowercase());
                }
            }
        }
        let pattern = self
            .pattern
            .as_ref()
            .map(|p| p.get_ref().to_ascii_lowercase());
        let representative = pattern.is_some() && !self.hosts.is_empty();
        if self.hosts.is_empty()
            && let Some(p) = &pattern
        {
            names.push(p.clone());
        }

        let mut rows = Vec::new();
        for name in &names {
            for &port in self.ports.get_ref() {
                for &transport in &transports {
                    rows.push(Row {
                        host: name.clone(),
                        port,
                        transport,
                        section: self.section.get_ref().clone(),
                        sections: vec![self.section.get_ref().clone()],
                        description: self.description.clone(),
                        os: self.os.clone(),
                        supports_proxy: self.supports_proxy,
                        legacy: self.legacy,
                        representative,
                        pattern: pattern.clone(),
                        source: self.source.get_ref().clone(),
                        sources: vec![self.source.get_ref().clone()],
                        note: self.note.clone(),
                        tls_max: self.tls_max.as_ref().map(|v| v.get_ref().clone()),
                        tls_ciphers: self.tls_ciphers.clone(),
                        probe: self.probe.as_ref().map(|p| *p.get_ref()),
                        pinned_by: self.pinned_by.clone(),
                        // Names pinned together are exempted together (a Kandji tenant's two
                        // device domains).
                        pinned_with: if self.pinned_by.is_some() {
                            names.iter().filter(|n| *n != name).cloned().collect()
                        } else {
                            Vec::new()
                        },
                        networks: networks.clone(),
                    });
                }
            }
        }
        Ok(rows)
    }
}

/// Expands one `{A..B}` numeric range in a host name; names without one come back unchanged.
fn expand_range(name: &str) -> Result<Vec<String>, String> {
    let Some(open) = name.find("{") else {
        return Ok(vec![name.to_owned()]);
    };
    let Some(close) = name[open..].find('}').map(|i| open + i) else {
        return Err(format!("unclosed '{{' in '{name}'"));
    };
    let inner = &name[open + 1..close];
    let Some((a, b)) = inner.split_once("..") else {
        // Not a range: a template placeholder, filled in later.
        return Ok(vec![name.to_owned()]);
    };
    let bad = || format!("range '{{{inner}}}' in '{name}' must be {{A..B}} with A <= B");
    let a: u32 = a.trim().parse().map_err(|_| bad())?;
    let b: u32 = b.trim().parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    if b - a >= MAX_RANGE {
        return Err(format!(
            "range '{{{inner}}}' in '{name}' has more than {MAX_RANGE} names"
        ));
    }
    let (head, tail) = (&name[..open], &name[close + 1..]);
    if tail.contains("..") && tail.contains('{') {
        return Err(format!("'{name}' has more than one range"));
    }
    Ok((a..=b).map(|n| format!("{head}{n}{tail}")).collect())
}

/// Fills `{tenant}` and `{subdomain}`. `Ok(None)` means a needed value was not given, so the row is
/// left out rather than probed under a placeholder name.
fn fill_template(name: &str, values: &TenantValues) -> Result<Option<String>, String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}').map(|i| open + i) else {
            return Err(format!("unclosed '{{' in '{name}'"));
        };
        let value = match &rest[open + 1..close] {
            "tenant" => &values.tenant,
            "subdomain" => &values.subdomain,
            other => {
                return Err(format!(
                    "unknown placeholder '{{{other}}}' in '{name}' (known: {{tenant}}, {{subdomain}}, {{A..B}})"
                ));
            }
        };
        match value {
            Some(v) => out.push_str(v),
            None => return Ok(None),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_inclusively() {
        let names = expand_range("{1..3}-courier.push.apple.com").expect("range");
        assert_eq!(
            names,
            [
                "1-courier.push.apple.com",
                "2-courier.push.apple.com",
                "3-courier.push.apple.com"
            ]
        );
        assert!(expand_range("{3..1}.x.com").is_err());
        assert!(expand_range("{0..5000}.x.com").is_err());
    }

    #[test]
    fn templates_need_their_values() {
        let none = TenantValues::default();
        assert_eq!(fill_template("{tenant}.web-api.kandji.io", &none), Ok(None));
        let some = TenantValues {
            tenant: Some("abc".into()),
            ..Default::default()
        };
        assert_eq!(
            fill_template("{tenant}.web-api.kandji.io", &some),
            Ok(Some("abc.web-api.kandji.io".into()))
        );
        assert!(fill_template("{bogus}.x.com", &some).is_err());
    }
}
