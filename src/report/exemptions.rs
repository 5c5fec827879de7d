//! `pinscope exemptions check`, rendered: a table, JSON (its own wire types, below) or Markdown.
//! Everything taken from the list (patterns, rule lines, a PAC's answers, file names) is escaped
//! for the output it goes to.

use std::fmt::Write as _;

use serde::Serialize;

use super::text;
use crate::analysis::exemptions::{Credit, ExemptionCheck, Flagged, HostCheck, Status};

/// How the check is written (`--output-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
    Markdown,
}

/// The check as JSON: the wire form.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub file: &'a str,
    /// The format the list was read as.
    pub format: &'static str,
    /// Whether every required host is exempt.
    pub ok: bool,
    pub hosts: Vec<Host<'a>>,
    /// Required hosts that are not wholly exempt (`host` values of `hosts`).
    pub missing: Vec<&'a str>,
    pub unused: Vec<Note<'a>>,
    pub broad: Vec<Note<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Host<'a> {
    pub host: &'a str,
    pub ports: &'a [u16],
    pub section: &'a str,
    pub pattern: Option<&'a str>,
    pub required: bool,
    /// `exempt`, `partly`, `not_exempt` or `undetermined`.
    pub status: &'static str,
    pub entry: Option<Entry<'a>>,
    pub note: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    /// `file:line` when an entry of the file decided, else `null`.
    pub at: Option<String>,
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Note<'a> {
    pub entry: Entry<'a>,
    pub why: &'a str,
}

fn entry(c: &Credit) -> Entry<'_> {
    Entry {
        at: c.origin.as_ref().map(ToString::to_string),
        text: &c.text,
    }
}

fn note(f: &Flagged) -> Note<'_> {
    Note {
        entry: entry(&f.credit),
        why: &f.why,
    }
}

/// Renders the check.
pub fn render(check: &ExemptionCheck, format: CheckFormat) -> String {
    match format {
        CheckFormat::Json => json(check),
        CheckFormat::Table => table(check),
        CheckFormat::Markdown => markdown(check),
    }
}

fn json(check: &ExemptionCheck) -> String {
    let doc = Document {
        file: &check.file,
        format: check.format.as_str(),
        ok: check.missing().next().is_none(),
        hosts: check
            .hosts
            .iter()
            .map(|h| Host {
                host: &h.host,
                ports: &h.ports,
                section: &h.section,
                pattern: h.pattern.as_deref(),
                required: h.required,
                status: h.status.as_str(),
                entry: h.credit.as_ref().map(entry),
                note: h.note.as_deref(),
            })
            .collect(),
        missing: check.missing().map(|h| h.host.as_str()).collect(),
        unused: check.unused.iter().map(note).collect(),
        broad: check.broad.iter().map(note).collect(),
    };
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned());
    out.push('\n');
    out
}

fn credit_text(c: Option<&Credit>) -> String {
    match c {
        Some(Credit {
            origin: Some(o),
            text,
        }) => format!("{o}: {text}"),
        Some(Credit { origin: None, text }) => text.clone(),
        None => String::new(),
    }
}

fn status_label(h: &HostCheck) -> String {
    let s = match h.status {
        Status::Exempt => "exempt",
        Status::Partly => "PARTLY",
        Status::NotExempt => "NOT EXEMPT",
        Status::Undetermined => "UNDETERMINED",
    };
    if h.required || h.status == Status::Exempt {
        s.to_owned()
    } else {
        format!("{s} (legacy)")
    }
}

fn ports(h: &HostCheck) -> String {
    h.ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn summary(check: &ExemptionCheck) -> String {
    let missing = check.missing().count();
    let required = check.hosts.iter().filter(|h| h.required).count();
    if missing == 0 {
        format!(
            "Every required host ({required}) is exempted by {} ({}).",
            check.file,
            check.format.as_str()
        )
    } else {
        format!(
            "{missing} of {required} required hosts are not exempted by {} ({}).",
            check.file,
            check.format.as_str()
        )
    }
}

/// Hosts in order, consecutive members of one numbered family with the same answer on one line
/// (the JSON lists each): the first host, and how many the line stands for.
fn gathered<'a>(hosts: impl Iterator<Item = &'a HostCheck>) -> Vec<(&'a HostCheck, usize)> {
    let mut out: Vec<(&HostCheck, usize)> = Vec::new();
    for h in hosts {
        if let Some((first, n)) = out.last_mut()
            && h.family.is_some()
            && first.family == h.family
            && first.status == h.status
            && first.credit == h.credit
            && first.note == h.note
            && first.ports == h.ports
        {
            *n += 1;
            continue;
        }
        out.push((h, 1));
    }
    out
}

fn label(h: &HostCheck, n: usize) -> String {
    match (&h.family, n) {
        (Some(family), n) if n > 1 => format!("{family} ({n} hosts)"),
        _ => h.host.clone(),
    }
}

fn table(check: &ExemptionCheck) -> String {
    let headers = ["HOST", "PORTS", "STATUS", "ENTRY", "NOTE"];
    let cells: Vec<[String; 5]> = gathered(check.hosts.iter())
        .into_iter()
        .map(|(h, n)| {
            [
                text::line(&label(h, n)),
                ports(h),
                status_label(h),
                text::line(&credit_text(h.credit.as_ref())),
                text::line(h.note.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for c in &cells {
        for (w, cell) in widths.iter_mut().zip(c) {
            *w = (*w).max(unicode_width::UnicodeWidthStr::width(cell.as_str()));
        }
    }
    let row = |c: [&str; 5]| {
        let mut s = String::new();
        for (i, cell) in c.iter().enumerate() {
            s.push_str(cell);
            if i + 1 < c.len() {
                let pad = widths[i].saturating_sub(unicode_width::UnicodeWidthStr::width(*cell));
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = row(headers);
    for c in &cells {
        out.push_str(&row([&c[0], &c[1], &c[2], &c[3], &c[4]]));
    }
    let missing = gathered(check.missing());
    if !missing.is_empty() {
        out.push_str("\nRequired hosts not exempted:\n");
        for (h, n) in missing {
            let _ = writeln!(
                out,
                "  {} ({}){}",
                text::line(&label(h, n)),
                ports(h),
                h.note
                    .as_deref()
                    .map(|n| format!(": {}", text::line(n)))
                    .unwrap_or_default()
            );
        }
    }
    for (title, list) in [
        (
            "Entries that cover nothing Apple or the MDM vendors list:",
            &check.unused,
        ),
        ("Dangerously broad entries:", &check.broad),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}");
        for f in list {
            let _ = writeln!(
                out,
                "  {}: {}",
                text::line(&credit_text(Some(&f.credit))),
                text::line(&f.why)
            );
        }
    }
    let _ = writeln!(out, "\n{}", text::line(&summary(check)));
    out
}

fn markdown(check: &ExemptionCheck) -> String {
    let md = text::markdown;
    let mut out = format!(
        "# Exemption list check: {}\n\n{}\n\n| host | ports | status | entry | note |\n|---|---|---|---|---|\n",
        md(&check.file),
        md(&summary(check))
    );
    for h in &check.hosts {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            md(&h.host),
            ports(h),
            md(&status_label(h)),
            md(&credit_text(h.credit.as_ref())),
            md(h.note.as_deref().unwrap_or(""))
        );
    }
    for (title, list) in [
        (
            "Entries that cover nothing Apple or the MDM vendors list",
            &check.unused,
        ),
        ("Dangerously broad entries", &check.broad),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n## {title}\n");
        for f in list {
            let _ = writeln!(
                out,
                "- {}: {}",
                md(&credit_text(Some(&f.credit))),
                md(&f.why)
            );
        }
    }
    out
}
