//! The catalog: every host, port and transport that Apple's enterprise-network article, the APNs
//! firewall note and the MDM vendors' network pages say devices must reach.
//!
//! The data lives in `data/catalog.toml` (embedded in the binary); a user's `--catalog FILE` in the same
//! format adds rows or replaces built-in rows with the same host:port:transport. Loading turns the
//! document's entries into [`Row`]s: numeric ranges in representative names are expanded, Kandji tenant
//! templates are filled in (or left out when the tenant is not given), and rows that several sections
//! list are merged into one.

mod parse;

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

pub use crate::model::row::{Network, Probe, ProxySupport, Region, Row, Transport};
pub use parse::CatalogError;
use parse::{Document, RawEntry};

/// The catalog compiled into the binary.
const BUILTIN: &str = include_str!("../../data/catalog.toml");
const BUILTIN_NAME: &str = "<built-in catalog>";

/// The values that fill the Kandji tenant templates (`{tenant}`, `{subdomain}`) and select
/// region-specific rows. Rows that need a value not given here are left out.
#[derive(Clone, Debug, Default)]
pub struct TenantValues {
    pub tenant: Option<String>,
    pub subdomain: Option<String>,
    pub region: Option<Region>,
}

/// A section of the catalog (Apple's article's headings, plus APNs and Kandji).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    pub id: String,
    pub title: String,
}

/// A document the catalog was built from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Source {
    pub id: String,
    pub file: String,
    pub title: String,
}

/// The loaded catalog: rows in source order, after merging.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub sections: Vec<Section>,
    pub sources: Vec<Source>,
    pub rows: Vec<Row>,
}

impl Catalog {
    /// The built-in catalog, optionally overlaid with a user's file.
    pub fn load(extra: Option<&Path>, values: &TenantValues) -> Result<Self, CatalogError> {
        let mut docs = vec![Document::parse(BUILTIN, BUILTIN_NAME)?];
        if let Some(path) = extra {
            let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
                path: path.display().to_string(),
                source,
            })?;
            docs.push(Document::parse(&text, &path.display().to_string())?);
        }
        Self::from_documents(&docs, values)
    }

    /// Builds a catalog from TOML text alone (no built-in rows). Used by tests and fuzzing.
    pub fn from_text(
        text: &str,
        origin: &str,
        values: &TenantValues,
    ) -> Result<Self, CatalogError> {
        Self::from_documents(&[Document::parse(text, origin)?], values)
    }

    fn from_documents(docs: &[Document], values: &TenantValues) -> Result<Self, CatalogError> {
        let mut sections: Vec<Section> = Vec::new();
        let mut sources: Vec<Source> = Vec::new();
        for doc in docs {
            for s in &doc.sections {
                upsert(&mut sections, s.clone(), |a, b| a.id == b.id);
            }
            for s in &doc.sources {
                upsert(&mut sources, s.clone(), |a, b| a.id == b.id);
            }
        }

        let mut rows: Vec<Row> = Vec::new();
        let mut index: HashMap<(String, u16, Transport), usize> = HashMap::new();
        for (doc_no, doc) in docs.iter().enumerate() {
            // Rows from a later document replace earlier rows with the same key outright; within one
            // document, repeated rows merge (the same host listed by several sections).
            let mut replaced_here: HashMap<(String, u16, Transport), usize> = HashMap::new();
            for spanned in &doc.entries {
                let entry = spanned.get_ref();
                entry.check_ids(doc, &sections, &sources)?;
                for row in entry.rows(spanned.span(), doc, values)? {
                    let key = row.key();
                    match (index.get(&key).copied(), replaced_here.get(&key).copied()) {
                        (Some(at), Some(_)) => merge_into(&mut rows[at], row),
                        (Some(at), None) if doc_no > 0 => {
                            rows[at] = row;
                            replaced_here.insert(key, at);
                        }
                        (Some(at), None) => merge_into(&mut rows[at], row),
                        (None, _) => {
                            index.insert(key.clone(), rows.len());
                            replaced_here.insert(key, rows.len());
                            rows.push(row);
                        }
                    }
                }
            }
        }
        Ok(Self {
            sections,
            sources,
            rows,
        })
    }

    /// Looks up the TCP row for a host and port.
    pub fn find(&self, host: &str, port: u16) -> Option<&Row> {
        // Targets named on the command line or in a file are TCP; a UDP row for the same port
        // (time.apple.com:123) describes another service.
        let host = host.to_ascii_lowercase();
        self.rows
            .iter()
            .find(|r| r.host == host && r.port == port && r.transport == Transport::Tcp)
    }

    /// Whether a section id exists.
    pub fn has_section(&self, id: &str) -> bool {
        self.sections.iter().any(|s| s.id.eq_ignore_ascii_case(id))
    }
}

/// Narrows a list of rows by section ids and host globs (`*` matches any run of characters).
/// Empty filters match everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub sections: Vec<String>,
    pub hosts: Vec<String>,
}

impl Filter {
    pub fn matches(&self, row: &Row) -> bool {
        let section_ok = self.sections.is_empty()
            || self.sections.iter().any(|want| {
                row.sections
                    .iter()
                    .any(|have| have.eq_ignore_ascii_case(want))
            });
        let host_ok = self.hosts.is_empty()
            || self.hosts.iter().any(|want| {
                glob_match(want, &row.host)
                    || row.pattern.as_deref().is_some_and(|p| glob_match(want, p))
            });
        section_ok && host_ok
    }
}

/// Case-insensitive glob where `*` matches any (possibly empty) run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    // Iterative matcher with single-star backtracking: linear in practice, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn upsert<T>(list: &mut Vec<T>, item: T, same: impl Fn(&T, &T) -> bool) {
    match list.iter_mut().find(|x| same(x, &item)) {
        Some(slot) => *slot = item,
        None => list.push(item),
    }
}

fn merge_into(row: &mut Row, other: Row) {
    for s in other.sections {
        if !row.sections.contains(&s) {
            row.sections.push(s);
        }
    }
    if !other.description.is_empty() && !row.description.contains(&other.description) {
        if row.description.is_empty() {
            row.description = other.description;
        } else {
            row.description = format!("{}; {}", row.description, other.description);
        }
    }
    for os in other.os {
        if !row.os.contains(&os) {
            row.os.push(os);
        }
    }
    row.supports_proxy = row.supports_proxy.max(other.supports_proxy);
    row.legacy &= other.legacy;
    row.representative &= other.representative;
    if row.pattern.is_none() {
        row.pattern = other.pattern;
    }
    for s in other.sources {
        if !row.sources.contains(&s) {
            row.sources.push(s);
        }
    }
    if row.probe.is_none() {
        row.probe = other.probe;
    }
    if row.tls_max.is_none() {
        row.tls_max = other.tls_max;
    }
    if row.tls_ciphers.is_empty() {
        row.tls_ciphers = other.tls_ciphers;
    }
    for n in other.networks {
        if !row.networks.contains(&n) {
            row.networks.push(n);
        }
    }
    if row.pinned_by.is_none() {
        row.pinned_by = other.pinned_by;
        row.pinned_with = other.pinned_with;
    }
    match (&mut row.note, other.note) {
        (Some(a), Some(b)) if !a.contains(&b) => *a = format!("{a} {b}"),
        (None, Some(b)) => row.note = Some(b),
        _ => {}
    }
}

impl RawEntry {
    fn check_ids(
        &self,
        doc: &Document,
        sections: &[Section],
        sources: &[Source],
    ) -> Result<(), CatalogError> {
        if !sections.iter().any(|s| s.id == *self.section.get_ref()) {
            return Err(doc.error_at(
                self.section.span(),
                "section",
                format!("unknown section '{}'", self.section.get_ref()),
            ));
        }
        for n in &self.networks {
            if !sources.iter().any(|s| s.id == n.get_ref().source) {
                return Err(doc.error_at(
                    n.span(),
                    "networks",
                    format!("unknown source '{}'", n.get_ref().source),
                ));
            }
        }
        if !sources.iter().any(|s| s.id == *self.source.get_ref()) {
            return Err(doc.error_at(
                self.source.span(),
                "source",
                format!("unknown source '{}'", self.source.get_ref()),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_wildcards_case_insensitively() {
        assert!(glob_match("*.push.apple.com", "1-courier.push.apple.com"));
        assert!(glob_match("GDMF.apple.com", "gdmf.apple.com"));
        assert!(glob_match("*courier*", "courier.push.apple.com"));
        assert!(!glob_match("*.push.apple.com", "push.apple.com.evil"));
        assert!(!glob_match("gdmf.apple.com", "gdmf-ados.apple.com"));
    }

    #[test]
    fn builtin_catalog_loads() {
        let c = Catalog::load(None, &TenantValues::default()).expect("built-in catalog");
        assert!(c.rows.len() > 100, "only {} rows", c.rows.len());
        assert!(c.find("albert.apple.com", 443).is_some());
    }
}
