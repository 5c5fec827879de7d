//! The default, human-readable view: one line per target, a summary line, and what to do about each
//! intercepted target. The numbered variants of one wildcard (`1-courier.push.apple.com` …
//! `50-courier.push.apple.com` on one port) share a line unless `--expand` asks for every one: a
//! third of the catalog is such variants, and one line per server hides the rows that differ.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::text::line;
use super::{RunReport, TargetResult, context_facts};
use crate::analysis::Verdict;
use crate::catalog::{Row, Transport};

/// ANSI styling, applied only when the caller says colour is wanted.
struct Paint {
    on: bool,
}

impl Paint {
    fn verdict(&self, v: Verdict, text: &str) -> String {
        if !self.on {
            return text.to_owned();
        }
        let code = match v {
            Verdict::Pass => "32",
            Verdict::Intercepted => "1;31",
            Verdict::Untrusted => "33",
            Verdict::Blocked
            | Verdict::Timeout
            | Verdict::DnsError
            | Verdict::TlsError
            | Verdict::ProxyError
            | Verdict::ProtocolError => "35",
            Verdict::Skipped => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn bold(&self, text: &str) -> String {
        if self.on {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// The terminal width the table is fitted to; 0 when it is not going to a terminal (then nothing
/// is cut). Set once by the command line, which alone knows where the output goes.
static WIDTH: AtomicUsize = AtomicUsize::new(0);

/// Fits every table rendered from now on to `columns` (a terminal's width), or to nothing.
pub fn fit_to(columns: Option<usize>) {
    WIDTH.store(columns.unwrap_or(0), Ordering::Relaxed);
}

fn fitted_width() -> Option<usize> {
    match WIDTH.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// Whether tables list every numbered variant on its own line (`--expand`). Set once by the command
/// line, like the width.
static EXPAND: AtomicBool = AtomicBool::new(false);

/// Lists every numbered variant on its own line in the tables rendered from now on (`true`), or
/// one line per wildcard, port and transport (`false`, the default).
pub fn expand_variants(on: bool) {
    EXPAND.store(on, Ordering::Relaxed);
}

/// Items in their order, the numbered variants of one family on one port and transport gathered
/// at the place of the first (unless `expand`). A family of one stays a line of its own.
fn gather<T>(items: &[T], row: impl Fn(&T) -> Option<&Row>, expand: bool) -> Vec<Vec<&T>> {
    let mut groups: Vec<Vec<&T>> = Vec::new();
    let mut at: HashMap<(String, u16, Transport), usize> = HashMap::new();
    for item in items {
        let key = row(item)
            .filter(|_| !expand)
            .and_then(|r| Some((r.numbered_family()?, r.port, r.transport)));
        match key {
            Some(key) => match at.get(&key) {
                Some(&i) => groups[i].push(item),
                None => {
                    at.insert(key, groups.len());
                    groups.push(vec![item]);
                }
            },
            None => groups.push(vec![item]),
        }
    }
    groups
}

/// The family and port a group of numbered variants is shown as (`*-courier.push.apple.com:5223`).
fn family_label(row: &Row) -> String {
    format!(
        "{}:{}",
        row.numbered_family().unwrap_or_else(|| row.host.clone()),
        row.port
    )
}

/// How bad a verdict is for a line that stands for several targets: interception first, then the
/// failures, then skipped, then pass.
fn badness(v: Verdict) -> (u8, Verdict) {
    let class = match v {
        Verdict::Intercepted => 0,
        Verdict::Pass => 3,
        Verdict::Skipped => 2,
        _ => 1,
    };
    (class, v)
}

/// Hosts named on a collapsed line before the rest are only counted (`--expand` shows them all).
const NAMED_HOSTS: usize = 5;

/// A table row for the numbered variants in `members` (more than one): the worst verdict, how many
/// targets had each verdict with the hosts of every verdict but the most common named, then the
/// first worst target's headline.
fn family_cells(members: &[&TargetResult]) -> (Verdict, [String; 4]) {
    let mut counts: Vec<(Verdict, usize)> = Vec::new();
    for m in members {
        let v = m.assessment.verdict;
        match counts.iter_mut().find(|(c, _)| *c == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    counts.sort_by_key(|&(v, _)| badness(v));
    // `members` is never empty (a group holds at least the item that made it), so neither is
    // `counts`; the fallbacks only keep this total.
    let worst = counts.first().map_or(Verdict::Skipped, |&(v, _)| v);
    let common = counts
        .iter()
        .max_by_key(|&&(v, n)| (n, std::cmp::Reverse(badness(v))))
        .map_or(worst, |&(v, _)| v);
    // Each verdict but the most common names its hosts: those are the ones that differ.
    let tally: Vec<String> = counts
        .iter()
        .map(|&(v, n)| {
            if v == common {
                return format!("{n} {}", v.as_str());
            }
            let hosts: Vec<&str> = members
                .iter()
                .filter(|m| m.assessment.verdict == v)
                .map(|m| m.observation.target.host.as_str())
                .collect();
            let mut named = hosts[..hosts.len().min(NAMED_HOSTS)].join(", ");
            if hosts.len() > NAMED_HOSTS {
                named.push_str(&format!(" and {} more", hosts.len() - NAMED_HOSTS));
            }
            format!("{n} {} ({named})", v.as_str())
        })
        .collect();
    let mut detail = format!("{} hosts: {}", members.len(), tally.join(", "));
    let first = members.first().map(|m| &m.observation.target);
    let headline = members
        .iter()
        .find(|m| m.assessment.verdict == worst)
        .and_then(|m| m.assessment.headline());
    if let Some(f) = headline {
        detail.push_str(&format!("; {}", f.message));
    }
    let label = first
        .and_then(|t| t.row.as_ref())
        .map_or_else(String::new, family_label);
    (
        worst,
        [
            line(&label),
            worst.as_str().to_owned(),
            line(first.map_or("-", |t| t.section())),
            line(&detail),
        ],
    )
}

/// The columns a text takes on a terminal (wide characters count two).
fn display_width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Pads to a width counted in terminal columns (host names and CA names can be non-ASCII).
fn pad(text: &str, width: usize) -> String {
    format!(
        "{text}{}",
        " ".repeat(width.saturating_sub(display_width(text)))
    )
}

/// Cuts `text` to at most `width` columns, ending with an ellipsis when something was cut.
fn cut(text: &str, width: usize) -> String {
    if display_width(text) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Column widths for a table whose cells are `cells` (already one-line text), separated by two
/// spaces. The last column takes what is left; with a terminal width, when even the others do not
/// fit, the widest of them give way first (down to their header's width).
fn widths<const N: usize>(
    headers: [&str; N],
    cells: &[[String; N]],
    total: Option<usize>,
) -> [usize; N] {
    let mut w = [0; N];
    for (i, slot) in w.iter_mut().enumerate() {
        *slot = cells
            .iter()
            .map(|r| display_width(&r[i]))
            .chain([headers[i].len()])
            .max()
            .unwrap_or(0);
    }
    let Some(total) = total else {
        return w;
    };
    let available = total.saturating_sub(2 * (N - 1));
    // What the last column needs at least before the others give way.
    let last_min = w[N - 1].min(16);
    loop {
        let fixed: usize = w[..N - 1].iter().sum();
        if fixed + last_min <= available {
            break;
        }
        // The widest column gives way, the first (what the row is about) only when no other can.
        let shrinkable = |i: usize| w[i] > headers[i].len().max(6);
        let widest = (1..N - 1)
            .filter(|&i| shrinkable(i))
            .max_by_key(|&i| w[i])
            .or_else(|| shrinkable(0).then_some(0));
        match widest {
            Some(i) => w[i] -= 1,
            None => break,
        }
    }
    let fixed: usize = w[..N - 1].iter().sum();
    w[N - 1] = w[N - 1].min(available.saturating_sub(fixed).max(1));
    w
}

/// Wraps `text` to `width` columns at spaces, continuation lines indented by `indent` columns; a
/// word longer than a line is cut.
fn wrap(text: &str, width: usize, indent: usize) -> Vec<String> {
    let room = width.saturating_sub(indent).max(10);
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let Some(current) = lines.last_mut() else {
            break;
        };
        let used = display_width(current);
        if used > 0 && used + 1 + display_width(word) > room {
            lines.push(cut(word, room));
        } else {
            if used > 0 {
                current.push(' ');
            }
            current.push_str(&cut(word, room));
        }
    }
    lines
}

/// The audit's results as a table, fitted to the terminal when the command line said so.
pub fn render(run: &RunReport, color: bool) -> String {
    render_to(run, color, fitted_width(), EXPAND.load(Ordering::Relaxed))
}

/// The table fitted to `width` columns (`None`: nothing cut), every numbered variant on its own
/// line when `expand`. Everything certificates and servers supply is shown through [`line()`].
pub fn render_to(run: &RunReport, color: bool, width: Option<usize>, expand: bool) -> String {
    let paint = Paint { on: color };
    let groups = gather(&run.results, |r| r.observation.target.row.as_ref(), expand);
    let (verdicts, rows): (Vec<Verdict>, Vec<[String; 4]>) = groups
        .iter()
        .map(|group| match group.as_slice() {
            [r] => {
                let a = &r.assessment;
                let detail = a.headline().map(|f| line(&f.message)).unwrap_or_default();
                (
                    a.verdict,
                    [
                        line(&r.observation.target.label()),
                        a.verdict.as_str().to_owned(),
                        line(r.observation.target.section()),
                        detail,
                    ],
                )
            }
            members => family_cells(members),
        })
        .unzip();
    let headers = ["TARGET", "VERDICT", "SECTION", "DETAIL"];
    let widths = widths(headers, &rows, width);
    let cell = |text: &str, i: usize| pad(&cut(text, widths[i]), widths[i]);

    let mut out = String::new();
    let header = format!(
        "{}  {}  {}  {}",
        cell(headers[0], 0),
        cell(headers[1], 1),
        cell(headers[2], 2),
        headers[3]
    );
    out.push_str(&paint.bold(&header));
    out.push('\n');
    for (row, &verdict) in rows.iter().zip(&verdicts) {
        let detail = if width.is_some() {
            cut(&row[3], widths[3])
        } else {
            row[3].clone()
        };
        out.push_str(&format!(
            "{}  {}  {}  {}\n",
            cell(&row[0], 0),
            paint.verdict(verdict, &cell(&row[1], 1)),
            cell(&row[2], 2),
            detail
        ));
    }

    let intercepted: Vec<_> = run
        .results
        .iter()
        .filter(|r| r.assessment.verdict == Verdict::Intercepted)
        .collect();
    if !intercepted.is_empty() {
        out.push('\n');
        out.push_str(&paint.bold("What to do"));
        out.push('\n');
        // The same advice for many targets (a family of numbered variants) is given once.
        let mut given = std::collections::HashSet::new();
        for r in intercepted {
            let explanation = line(&r.assessment.explanation);
            if !given.insert(explanation.clone()) {
                continue;
            }
            match width {
                None => out.push_str(&format!("- {explanation}\n")),
                Some(w) => {
                    for (n, l) in wrap(&explanation, w, 2).iter().enumerate() {
                        out.push_str(if n == 0 { "- " } else { "  " });
                        out.push_str(l);
                        out.push('\n');
                    }
                }
            }
        }
    }
    out.push('\n');
    // The run's circumstances, one fact a line, before the summary: the summary stays the last
    // line, where scripts (`tail -1`) and eyes look for it.
    for (label, value) in context_facts(run) {
        let text = format!("{label}: {}", line(&value));
        match width {
            Some(w) => {
                for (n, l) in wrap(&text, w, 2).iter().enumerate() {
                    out.push_str(if n == 0 { "" } else { "  " });
                    out.push_str(l);
                    out.push('\n');
                }
            }
            None => {
                out.push_str(&text);
                out.push('\n');
            }
        }
    }
    out.push_str(&run.summary().line());
    out.push('\n');
    out
}

/// The catalog as a table, fitted to the terminal when the command line said so.
pub fn render_catalog(rows: &[&Row]) -> String {
    render_catalog_to(rows, fitted_width(), EXPAND.load(Ordering::Relaxed))
}

/// The catalog as a table fitted to `width` columns (`None`: nothing cut), every numbered variant
/// on its own line when `expand`.
pub fn render_catalog_to(rows: &[&Row], width: Option<usize>, expand: bool) -> String {
    let groups = gather(rows, |r| Some(*r), expand);
    let cells: Vec<[String; 6]> = groups
        .iter()
        .filter_map(|group| Some((*group.first()?, group.len())))
        .map(|(r, n)| {
            let mut flags = Vec::new();
            if n > 1 {
                flags.push(format!("{n} hosts"));
            }
            if r.legacy {
                flags.push("legacy".to_owned());
            }
            if r.is_unresolved_pattern() {
                flags.push("no concrete name known".to_owned());
            } else if let Some(p) = &r.pattern {
                flags.push(format!("stands for {p}"));
            }
            let label = if n > 1 {
                family_label(r)
            } else {
                format!("{}:{}", r.host, r.port)
            };
            [
                line(&label),
                r.transport.to_string(),
                line(&r.section),
                r.supports_proxy.to_string(),
                line(&flags.join(", ")),
                line(&r.description),
            ]
        })
        .collect();
    let headers = [
        "HOST:PORT",
        "TRANSPORT",
        "SECTION",
        "PROXY",
        "FLAGS",
        "DESCRIPTION",
    ];
    let widths = widths(headers, &cells, width);
    let row_line = |c: [&str; 6]| {
        let mut s = String::new();
        for (i, text) in c.iter().enumerate().take(5) {
            s.push_str(&pad(&cut(text, widths[i]), widths[i]));
            s.push_str("  ");
        }
        if width.is_some() {
            s.push_str(&cut(c[5], widths[5]));
        } else {
            s.push_str(c[5]);
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = row_line(headers);
    for c in &cells {
        out.push_str(&row_line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]]));
    }
    let gathered: Vec<usize> = groups.iter().map(Vec::len).filter(|&n| n > 1).collect();
    if gathered.is_empty() {
        out.push_str(&format!("\n{} rows\n", rows.len()));
    } else {
        out.push_str(&format!(
            "\n{} rows ({} numbered variants shown as {} lines; --expand lists every one)\n",
            rows.len(),
            gathered.iter().sum::<usize>(),
            gathered.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn on_a_terminal_every_line_fits_and_the_detail_is_cut_with_an_ellipsis() {
        let run = sample::run();
        let piped = render_to(&run, false, None, false);
        assert_eq!(piped, render(&run, false));
        for columns in [60, 80, 100] {
            let fitted = render_to(&run, false, Some(columns), false);
            for l in fitted.lines().filter(|l| !l.contains(" targets: ")) {
                assert!(display_width(l) <= columns, "{columns}: {l:?}");
            }
        }
        let narrow = render_to(&run, false, Some(60), false);
        if piped.lines().any(|l| display_width(l) > 60) {
            assert!(narrow.contains('…'), "{narrow}");
        }
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }
}
