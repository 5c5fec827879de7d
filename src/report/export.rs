//! Exemption lists: the host patterns to exempt from SSL inspection, in the forms people paste into
//! proxies and firewalls. Wildcard catalog entries stay wildcards; the concrete names chosen to
//! probe them are never offered as the rule.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::catalog::{Row, Transport};

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Plain,
    Pac,
    Squid,
    Csv,
    Json,
}

/// One host or wildcard to exempt, with why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exemption {
    /// `host.example.com` or `*.example.com`.
    pub pattern: String,
    pub ports: Vec<u16>,
    pub sections: Vec<String>,
    pub reason: String,
}

impl Exemption {
    pub fn is_wildcard(&self) -> bool {
        self.pattern.starts_with("*.")
    }

    /// The domain under a wildcard (`.example.com`), or the host itself.
    fn suffix(&self) -> &str {
        self.pattern.strip_prefix('*').unwrap_or(&self.pattern)
    }
}

/// One target of an earlier run, as read back from its JSON (the fields exports need).
#[derive(Clone, Debug)]
pub struct ResultRow {
    pub host: String,
    pub port: u16,
    pub section: Option<String>,
    pub pattern: Option<String>,
    pub reason: String,
}

/// Exemptions for catalog rows: a wildcard row contributes its pattern, others their host.
pub fn from_catalog<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Vec<Exemption> {
    // SSL inspection happens on TCP: UDP-only services (NTP, QUIC) and SSH have nothing to exempt
    // from it.
    collect(
        rows.into_iter()
            .filter(|r| r.transport == Transport::Tcp)
            .flat_map(|r| {
                let item =
                    |pattern: String| (pattern, r.port, r.sections.clone(), r.description.clone());
                // A representative that is not under its wildcard (the apex business.apple.com
                // for *.business.apple.com) is needed by name too: the wildcard does not match it.
                let apex = r
                    .pattern
                    .as_deref()
                    .and_then(|p| p.strip_prefix('*'))
                    .filter(|suffix| !r.is_unresolved_pattern() && !r.host.ends_with(suffix));
                let mut items = vec![item(r.pattern.clone().unwrap_or_else(|| r.host.clone()))];
                if apex.is_some() {
                    items.push(item(r.host.clone()));
                }
                items
            }),
    )
}

/// Exemptions for the targets of an earlier run.
pub fn from_results(rows: &[ResultRow]) -> Vec<Exemption> {
    collect(rows.iter().map(|r| {
        (
            r.pattern.clone().unwrap_or_else(|| r.host.clone()),
            r.port,
            r.section.iter().cloned().collect(),
            r.reason.clone(),
        )
    }))
}

fn collect(items: impl Iterator<Item = (String, u16, Vec<String>, String)>) -> Vec<Exemption> {
    // Keyed by pattern, in first-seen order.
    let mut order: Vec<String> = Vec::new();
    let mut by_pattern: BTreeMap<String, Exemption> = BTreeMap::new();
    for (pattern, port, sections, reason) in items {
        let pattern = pattern.to_ascii_lowercase();
        let entry = by_pattern.entry(pattern.clone()).or_insert_with(|| {
            order.push(pattern.clone());
            Exemption {
                pattern: pattern.clone(),
                ports: Vec::new(),
                sections: Vec::new(),
                reason: String::new(),
            }
        });
        if !entry.ports.contains(&port) {
            entry.ports.push(port);
        }
        for s in sections {
            if !entry.sections.contains(&s) {
                entry.sections.push(s);
            }
        }
        if entry.reason.is_empty() {
            entry.reason = reason;
        }
    }
    // A host already covered by an exported wildcard adds nothing.
    let wildcards: Vec<String> = order
        .iter()
        .filter(|p| p.starts_with("*."))
        .map(|p| p[1..].to_owned())
        .collect();
    order
        .into_iter()
        .filter(|p| p.starts_with("*.") || !wildcards.iter().any(|w| p.ends_with(w.as_str())))
        .filter_map(|p| by_pattern.remove(&p))
        .collect()
}

/// Renders the list. `proxy` is the PAC's answer for everything not exempted (`PROXY host:port`).
pub fn render(list: &[Exemption], format: ExportFormat, proxy: Option<&str>) -> String {
    match format {
        ExportFormat::Plain => list.iter().map(|e| format!("{}\n", e.pattern)).collect(),
        ExportFormat::Csv => {
            let mut out = String::from("pattern,kind,ports,sections,reason\n");
            for e in list {
                let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
                let _ = writeln!(
                    out,
                    "{},{},{},{},{}",
                    csv(&e.pattern),
                    if e.is_wildcard() { "wildcard" } else { "host" },
                    csv(&ports.join(" ")),
                    csv(&e.sections.join(" ")),
                    csv(&e.reason)
                );
            }
            out
        }
        ExportFormat::Json => {
            let mut out = serde_json::to_string_pretty(list).unwrap_or_else(|_| "[]".into());
            out.push('\n');
            out
        }
        ExportFormat::Squid => squid(list),
        ExportFormat::Pac => pac(list, proxy.unwrap_or("DIRECT")),
    }
}

fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// An acl of server names plus `ssl_bump splice` for them. In `ssl::server_name`, a leading dot
/// matches the domain's subdomains, which is what a wildcard means.
fn squid(list: &[Exemption]) -> String {
    let mut out = format!(
        "# SSL-inspection exemptions generated by pinscope {}: splice (do not bump) these servers.\n\
         # Place before your other ssl_bump rules.\n",
        env!("CARGO_PKG_VERSION")
    );
    // `.example.com` also matches example.com itself, and squid refuses an acl that lists both.
    let wildcards: Vec<&str> = list
        .iter()
        .filter(|e| e.is_wildcard())
        .map(Exemption::suffix)
        .collect();
    let names: Vec<&str> = list
        .iter()
        .filter(|e| e.is_wildcard() || !wildcards.contains(&format!(".{}", e.pattern).as_str()))
        .map(Exemption::suffix)
        .collect();
    for chunk in names.chunks(8) {
        let _ = writeln!(
            out,
            "acl pinscope_exempt ssl::server_name {}",
            chunk.join(" ")
        );
    }
    out.push_str("ssl_bump splice pinscope_exempt\n");
    out
}

/// A PAC file: DIRECT for exempted hosts, the given proxy otherwise.
fn pac(list: &[Exemption], proxy: &str) -> String {
    let mut out = format!(
        "// Proxy auto-config generated by pinscope {}.\n\
         // Hosts Apple devices and MDM agents must reach without SSL inspection go DIRECT.\n\
         function FindProxyForURL(url, host) {{\n    host = host.toLowerCase();\n",
        env!("CARGO_PKG_VERSION")
    );
    let (wild, exact): (Vec<&Exemption>, Vec<&Exemption>) =
        list.iter().partition(|e| e.is_wildcard());
    for e in exact {
        let _ = writeln!(
            out,
            "    if (host == {}) return \"DIRECT\";",
            js_string(&e.pattern)
        );
    }
    for e in wild {
        let _ = writeln!(
            out,
            "    if (dnsDomainIs(host, {})) return \"DIRECT\";",
            js_string(e.suffix())
        );
    }
    let _ = writeln!(out, "    return {};\n}}", js_string(proxy));
    out
}

fn js_string(s: &str) -> String {
    // Host patterns are DNS names; escape anyway so a user catalog cannot break the script.
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => Vec::new(),
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// A target's presented chain as PEM (leaf first, as the server sent it) and the file name to save
/// it under: `host_port.pem`, with anything but letters, digits, `.`, `-` and `_` in the host
/// replaced by `_` (so an IPv6 literal or a hostile name cannot leave the directory). `None` when
/// no certificate was received.
pub fn chain_pem(result: &super::TargetResult) -> Option<(String, String)> {
    use crate::model::observation::Outcome;
    let obs = &result.observation;
    let captured = match &obs.outcome {
        Outcome::Handshake { captured, .. } | Outcome::Offline { captured } => captured,
        Outcome::Failed {
            captured: Some(captured),
            ..
        } => captured,
        _ => return None,
    };
    if captured.chain.is_empty() {
        return None;
    }
    let mut pem = String::new();
    for der in &captured.chain {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der.as_ref());
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    let host: String = obs
        .target
        .host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A name of dots only ("." or "..") would name a directory.
    let host = if host.chars().all(|c| c == '.') {
        host.replace('.', "_")
    } else {
        host
    };
    Some((format!("{host}_{}.pem", obs.target.port), pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(pattern: &str) -> (String, u16, Vec<String>, String) {
        (pattern.to_owned(), 443, vec!["s".into()], "why".into())
    }

    #[test]
    fn wildcards_absorb_the_names_under_them() {
        let list = collect(
            [
                ex("courier.push.apple.com"),
                ex("*.push.apple.com"),
                ex("gdmf.apple.com"),
            ]
            .into_iter(),
        );
        let patterns: Vec<&str> = list.iter().map(|e| e.pattern.as_str()).collect();
        assert_eq!(patterns, ["*.push.apple.com", "gdmf.apple.com"]);
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
