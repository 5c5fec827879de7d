//! The JSON document (`--format json`). These wire types are the schema described in
//! docs/json-schema.md; `tests/json_contract.rs` deserialises real output against a mirror of it.

use serde::Serialize;

use super::{RunReport, Summary, TargetResult};
use crate::analysis::apple::PinningResult;
use crate::analysis::chain::CertSummary;
use crate::analysis::ct::CtReport;
use crate::analysis::revocation::RevocationStatus;
use crate::analysis::{Finding, Interception, TrustViews, Verdict};
use crate::catalog::{Row, Transport};
use crate::observation::{Outcome, ServiceAnswer};

/// Bumped when a field changes meaning or disappears; additions do not bump it.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    tool: &'static str,
    version: &'static str,
    schema_version: u32,
    started_at: &'a str,
    finished_at: &'a str,
    targets: Vec<Target<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct Target<'a> {
    host: &'a str,
    port: u16,
    transport: Transport,
    section: Option<&'a str>,
    representative: bool,
    pattern: Option<&'a str>,
    legacy: bool,
    sni: Option<&'a str>,
    proxy: Option<&'a str>,
    addresses: Vec<String>,
    address_used: Option<String>,
    verdict: Verdict,
    findings: &'a [Finding],
    explanation: &'a str,
    tls: Option<Tls<'a>>,
    anchor: Option<&'a str>,
    anchor_spki_sha256: Option<&'a str>,
    chain: Vec<Cert<'a>>,
    apple_pinning: Option<&'a PinningResult>,
    interception: Option<&'a Interception>,
    trust_views: Option<&'a TrustViews>,
    certificate_transparency: Option<&'a CtReport>,
    service: Option<&'a ServiceAnswer>,
    revocation: &'a [RevocationStatus],
    elapsed_ms: u64,
}

#[derive(Serialize)]
struct Tls<'a> {
    version: &'a str,
    cipher_suite: &'a str,
    alpn: Option<&'a str>,
}

#[derive(Serialize)]
struct Cert<'a> {
    subject: &'a str,
    issuer: &'a str,
    serial: &'a str,
    not_before: &'a str,
    not_after: &'a str,
    sha256: &'a str,
    spki_sha256: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parse_error: Option<&'a str>,
}

impl<'a> From<&'a CertSummary> for Cert<'a> {
    fn from(c: &'a CertSummary) -> Self {
        Self {
            subject: &c.subject,
            issuer: &c.issuer,
            serial: &c.serial,
            not_before: &c.not_before,
            not_after: &c.not_after,
            sha256: &c.sha256,
            spki_sha256: &c.spki_sha256,
            parse_error: c.parse_error.as_deref(),
        }
    }
}

fn target(r: &TargetResult) -> Target<'_> {
    let obs = &r.observation;
    let row: Option<&Row> = obs.target.row.as_ref();
    let tls = match &obs.outcome {
        Outcome::Handshake { params, .. } => Some(Tls {
            version: &params.version,
            cipher_suite: &params.cipher_suite,
            alpn: params.alpn.as_deref(),
        }),
        _ => None,
    };
    Target {
        host: &obs.target.host,
        port: obs.target.port,
        transport: obs.target.transport,
        section: row.map(|r| r.section.as_str()),
        representative: row.is_some_and(|r| r.representative),
        pattern: row.and_then(|r| r.pattern.as_deref()),
        legacy: row.is_some_and(|r| r.legacy),
        sni: obs.sni.as_deref(),
        proxy: obs.proxy.as_deref(),
        addresses: obs.addresses.iter().map(ToString::to_string).collect(),
        address_used: obs.address_used.map(|a| a.ip().to_string()),
        verdict: r.assessment.verdict,
        findings: &r.assessment.findings,
        explanation: &r.assessment.explanation,
        tls,
        anchor: r.assessment.anchor.as_deref(),
        anchor_spki_sha256: r.assessment.anchor_spki_sha256.as_deref(),
        chain: r.assessment.chain.iter().map(Cert::from).collect(),
        apple_pinning: r.assessment.pinning.as_ref(),
        interception: r.assessment.interception.as_ref(),
        trust_views: r.assessment.views.as_ref(),
        certificate_transparency: r.assessment.ct.as_ref(),
        service: match &obs.outcome {
            Outcome::Service(answer) => Some(answer),
            _ => None,
        },
        revocation: &r.assessment.revocation,
        elapsed_ms: u64::try_from(obs.elapsed.as_millis()).unwrap_or(u64::MAX),
    }
}

/// One target serialised exactly as in the document's `targets`, on one line (`--format jsonl`).
pub fn target_line(r: &TargetResult) -> String {
    serde_json::to_string(&target(r)).unwrap_or_else(|_| "{}".into())
}

pub fn render(run: &RunReport) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and serialising plain structs of strings and numbers
    // cannot either.
    let _ = write(run, &mut out);
    String::from_utf8(out).unwrap_or_else(|_| "{}\n".into())
}

/// Writes the document straight to `out`: a large audit's JSON is never held in memory whole.
pub fn write(run: &RunReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let doc = Document {
        tool: "pinscope",
        version: env!("CARGO_PKG_VERSION"),
        schema_version: SCHEMA_VERSION,
        started_at: &run.started_at,
        finished_at: &run.finished_at,
        targets: run.results.iter().map(target).collect(),
        summary: run.summary(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// The catalog as JSON: one object per host:port:transport, with the Apple pinning policy that
/// applies to its host (`pinning` gives it by host name).
pub fn render_catalog(rows: &[&Row], pinning: impl Fn(&str) -> Option<String>) -> String {
    #[derive(Serialize)]
    struct CatalogRow<'a> {
        #[serde(flatten)]
        row: &'a Row,
        apple_pinning_policy: Option<String>,
    }
    let rows: Vec<CatalogRow<'_>> = rows
        .iter()
        .map(|row| CatalogRow {
            row,
            apple_pinning_policy: if row.is_unresolved_pattern() {
                None
            } else {
                pinning(&row.host)
            },
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into());
    out.push('\n');
    out
}
