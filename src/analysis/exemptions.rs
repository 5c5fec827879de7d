//! `exemptions check`, judged: which selected catalog hosts a team's exemption list exempts from
//! SSL inspection, by which entry; which entries cover nothing the catalog lists; which are
//! dangerously broad. Pure: the list is already read, the catalog rows are given, a PAC is
//! evaluated by the bounded engine of [`crate::pac`] without resolving any name.
//!
//! How each kind of list decides for one name:
//! - a host list (plain, CSV, JSON): the first entry, in file order, whose pattern matches;
//! - a squid configuration: the `ssl_bump` rules, evaluated as squid does at each bumping step
//!   (first matching rule wins; `peek` and `stare` go on to the next step; no matching rule means
//!   squid's default, `splice`); the name is exempt when the final action is `splice`;
//! - a PAC: `FindProxyForURL` for the row's URL; exempt when the first entry of its answer is
//!   `DIRECT`.
//!
//! A catalog row standing for a wildcard (`*.push.apple.com`, represented by
//! `courier.push.apple.com`) is exempt only when every name under the wildcard is: for host lists
//! an entry must cover the whole wildcard; squid and PAC are asked about a name under it that no
//! list would name ([`WILDCARD_PROBE`]). When only the representative is exempt, the row is
//! `partly` exempt, which devices using another name under the wildcard would still find
//! inspected.

use crate::catalog::{Row, Transport};
use crate::input::exemptions::{
    AclKind, Action, Entry, ExemptionList, ListFormat, ListKind, Origin, Pattern, Rule,
    SquidConfig, is_under,
};
use crate::pac::{Pac, PacError, Route, routes};

/// The first label of the name squid and PAC lists are asked about for a wildcard `*.d`
/// (`pinscope-wildcard-check.d`).
pub const WILDCARD_PROBE: &str = "pinscope-wildcard-check";
/// A name outside every catalog (the `.example` TLD is reserved): a list that exempts it exempts
/// names nobody asked for.
pub const OUTSIDE_PROBE: &str = "pinscope-check.example";

/// Whether a row is exempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Exempt,
    /// The representative name is, but not every name under its wildcard.
    Partly,
    NotExempt,
    /// The list depends on something pinscope cannot tell from a name (a squid ACL on client
    /// addresses, for example).
    Undetermined,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exempt => "exempt",
            Self::Partly => "partly",
            Self::NotExempt => "not_exempt",
            Self::Undetermined => "undetermined",
        }
    }
}

/// What in the list decided: an entry (with its file and line), or words when nothing in the
/// file did (squid's default action, a PAC's answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credit {
    pub origin: Option<Origin>,
    pub text: String,
}

/// One selected catalog host (its TCP ports together).
#[derive(Clone, Debug)]
pub struct HostCheck {
    pub host: String,
    pub ports: Vec<u16>,
    pub section: String,
    pub pattern: Option<String>,
    /// The numbered family a representative belongs to (`*-courier.push.apple.com`), for views
    /// that show such a family on one line.
    pub family: Option<String>,
    /// Not legacy: a required host that is not exempt makes the check fail.
    pub required: bool,
    pub status: Status,
    /// What exempts it (or, for `not_exempt` from squid or a PAC, what decided otherwise).
    pub credit: Option<Credit>,
    /// Why, in words, when the status needs it.
    pub note: Option<String>,
}

/// An entry worth a look.
#[derive(Clone, Debug)]
pub struct Flagged {
    pub credit: Credit,
    pub why: String,
}

/// The whole check.
#[derive(Clone, Debug)]
pub struct ExemptionCheck {
    pub file: String,
    pub format: ListFormat,
    pub hosts: Vec<HostCheck>,
    /// Entries that match no host or wildcard of the catalog.
    pub unused: Vec<Flagged>,
    /// Entries that exempt every name, a whole top-level domain, or names outside the catalog.
    pub broad: Vec<Flagged>,
}

impl ExemptionCheck {
    /// Required hosts that are not (wholly) exempt.
    pub fn missing(&self) -> impl Iterator<Item = &HostCheck> {
        self.hosts
            .iter()
            .filter(|h| h.required && h.status != Status::Exempt)
    }
}

/// What a list says about one name.
#[derive(Clone, Debug)]
struct Decision {
    status: Status,
    credit: Option<Credit>,
    note: Option<String>,
}

/// What a name is asked about.
#[derive(Clone, Copy, Debug)]
enum Subject<'a> {
    Host(&'a str),
    /// Every name under this domain.
    Wildcard(&'a str),
}

/// Checks the list against the selected rows; `catalog` is every row (for the entries that
/// cover nothing). Only a PAC that fails to evaluate is an error.
pub fn check(
    list: &ExemptionList,
    selected: &[&Row],
    catalog: &[Row],
) -> Result<ExemptionCheck, PacError> {
    let mut judge = Judge::new(list)?;
    let mut hosts: Vec<HostCheck> = Vec::new();
    for row in selected.iter().filter(|r| r.transport == Transport::Tcp) {
        if let Some(h) = hosts.iter_mut().find(|h| h.host == row.host) {
            if !h.ports.contains(&row.port) {
                h.ports.push(row.port);
            }
            h.required |= !row.legacy;
            continue;
        }
        hosts.push(HostCheck {
            host: row.host.clone(),
            ports: vec![row.port],
            section: row.section.clone(),
            pattern: row.pattern.clone(),
            family: row.numbered_family(),
            required: !row.legacy,
            status: Status::NotExempt,
            credit: None,
            note: None,
        });
    }
    for h in &mut hosts {
        let decision = judge.row(h)?;
        h.status = decision.status;
        h.credit = decision.credit;
        h.note = decision.note;
    }
    let (unused, mut broad) = entries(list, catalog);
    if let Some(outside) = judge.outside()? {
        broad.push(outside);
    }
    Ok(ExemptionCheck {
        file: list.file.clone(),
        format: list.format,
        hosts,
        unused,
        broad,
    })
}

/// The list, ready to be asked about names.
enum Judge<'a> {
    Names(&'a [Entry]),
    Squid(&'a SquidConfig),
    Pac(Box<Pac>),
}

impl<'a> Judge<'a> {
    fn new(list: &'a ExemptionList) -> Result<Self, PacError> {
        Ok(match &list.kind {
            ListKind::Names(entries) => Self::Names(entries),
            ListKind::Squid(config) => Self::Squid(config),
            ListKind::Pac(text) => Self::Pac(Box::new(Pac::new(text)?)),
        })
    }

    /// A row: its host, and for a wildcard row the whole wildcard.
    fn row(&mut self, h: &HostCheck) -> Result<Decision, PacError> {
        let wildcard = h
            .pattern
            .as_deref()
            .or(h.host.starts_with("*.").then_some(h.host.as_str()))
            .and_then(|p| p.strip_prefix("*."));
        let Some(domain) = wildcard else {
            return self.decide(Subject::Host(&h.host), &h.ports);
        };
        let whole = self.decide(Subject::Wildcard(domain), &h.ports)?;
        if h.host.starts_with("*.") {
            return Ok(whole);
        }
        // The representative too: usually a name under the wildcard, but for *.business.apple.com
        // it is the apex, which `*.business.apple.com` does not match.
        let one = self.decide(Subject::Host(&h.host), &h.ports)?;
        Ok(match (whole.status, one.status) {
            (Status::Exempt, Status::Exempt) => whole,
            (Status::Exempt, _) => Decision {
                note: Some(format!(
                    "every name under *.{domain} is exempt, but not {} itself",
                    h.host
                )),
                ..one
            },
            (_, Status::Exempt) => Decision {
                status: Status::Partly,
                note: Some(format!(
                    "{} is exempt, but not every name under *.{domain}: devices use others",
                    h.host
                )),
                credit: one.credit,
            },
            _ => Decision {
                note: whole.note.or(one.note),
                ..one
            },
        })
    }

    fn decide(&mut self, subject: Subject<'_>, ports: &[u16]) -> Result<Decision, PacError> {
        match self {
            Self::Names(entries) => Ok(names(entries, subject)),
            Self::Squid(config) => Ok(squid(config, &probe_name(subject))),
            Self::Pac(pac) => pac_decide(pac, &probe_name(subject), ports),
        }
    }

    /// Whether a name outside the catalog is exempted too (squid and PAC: host lists show
    /// breadth by their patterns).
    fn outside(&mut self) -> Result<Option<Flagged>, PacError> {
        if matches!(self, Self::Names(_)) {
            return Ok(None);
        }
        let d = self.decide(Subject::Host(OUTSIDE_PROBE), &[443])?;
        // Squid's default (no rule matches: splice) is not an entry: an exported fragment has
        // no `bump` rule of its own, the configuration it is pasted into does.
        let by_the_file =
            matches!(self, Self::Pac(_)) || d.credit.as_ref().is_some_and(|c| c.origin.is_some());
        Ok((d.status == Status::Exempt && by_the_file).then(|| Flagged {
            credit: d.credit.unwrap_or(Credit {
                origin: None,
                text: String::new(),
            }),
            why: format!(
                "a name outside the catalog ({OUTSIDE_PROBE}) is exempt too: this list exempts names no Apple or MDM source asks for"
            ),
        }))
    }
}

/// The name asked about: the host, or a name under the wildcard no list would name.
fn probe_name(subject: Subject<'_>) -> String {
    match subject {
        Subject::Host(h) => h.to_owned(),
        Subject::Wildcard(d) => format!("{WILDCARD_PROBE}.{d}"),
    }
}

fn names(entries: &[Entry], subject: Subject<'_>) -> Decision {
    let found = entries.iter().find(|e| match subject {
        Subject::Host(h) => e.pattern.matches(h),
        Subject::Wildcard(d) => e.pattern.covers_wildcard(d),
    });
    match found {
        Some(e) => Decision {
            status: Status::Exempt,
            credit: Some(Credit {
                origin: Some(e.origin.clone()),
                text: e.text.clone(),
            }),
            note: None,
        },
        None => Decision {
            status: Status::NotExempt,
            credit: None,
            note: match subject {
                Subject::Wildcard(d) => Some(format!("no entry covers every name under *.{d}")),
                Subject::Host(_) => None,
            },
        },
    }
}

/// A tri-state answer: squid ACLs of types pinscope does not evaluate are neither.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tri<'a> {
    Yes(Option<&'a Entry>),
    No,
    Unknown(String),
}

/// How deep `any-of` / `all-of` may nest.
const MAX_ACL_DEPTH: usize = 16;
/// How many ACLs one condition may look at in all: `any-of` lists that name themselves several
/// times would otherwise branch without end.
const MAX_ACL_VISITS: usize = 10_000;

fn acl_matches<'a>(
    config: &'a SquidConfig,
    name: &str,
    host: &str,
    step: u8,
    depth: usize,
    visits: &mut usize,
) -> Tri<'a> {
    let Some(acl) = config.acl(name) else {
        return Tri::Unknown(format!("the ACL '{name}' is not defined"));
    };
    *visits += 1;
    if depth > MAX_ACL_DEPTH || *visits > MAX_ACL_VISITS {
        return Tri::Unknown(format!("the ACL '{name}' nests too deep (or names itself)"));
    }
    match &acl.kind {
        AclKind::All => Tri::Yes(None),
        AclKind::Names { values, .. } => match values.iter().find(|v| v.pattern.matches(host)) {
            Some(v) => Tri::Yes(Some(v)),
            None => Tri::No,
        },
        AclKind::Regex { values, .. } => {
            if values
                .iter()
                .any(|(re, _, _)| re.is_match(host).unwrap_or(false))
            {
                Tri::Yes(None)
            } else {
                Tri::No
            }
        }
        AclKind::AtStep(steps) => {
            if steps.contains(&step) {
                Tri::Yes(None)
            } else {
                Tri::No
            }
        }
        AclKind::AnyOf(names) => {
            let mut unknown = None;
            for n in names {
                match acl_matches(config, n, host, step, depth + 1, visits) {
                    yes @ Tri::Yes(_) => return yes,
                    Tri::No => {}
                    Tri::Unknown(why) => unknown = Some(why),
                }
            }
            unknown.map_or(Tri::No, Tri::Unknown)
        }
        AclKind::AllOf(names) => {
            let mut entry = None;
            let mut unknown = None;
            for n in names {
                match acl_matches(config, n, host, step, depth + 1, visits) {
                    Tri::Yes(e) => entry = entry.or(e),
                    Tri::No => return Tri::No,
                    Tri::Unknown(why) => unknown = Some(why),
                }
            }
            unknown.map_or(Tri::Yes(entry), Tri::Unknown)
        }
        AclKind::Other(t) => Tri::Unknown(format!(
            "the ACL '{name}' is of type {t}, which cannot be decided from a host name"
        )),
    }
}

fn rule_matches<'a>(config: &'a SquidConfig, rule: &Rule, host: &str, step: u8) -> Tri<'a> {
    let mut entry = None;
    let mut unknown = None;
    for c in &rule.conditions {
        let t = acl_matches(config, &c.acl, host, step, 0, &mut 0);
        let t = match (t, c.negated) {
            (Tri::Yes(_), true) => Tri::No,
            (Tri::No, true) => Tri::Yes(None),
            (t, _) => t,
        };
        match t {
            Tri::No => return Tri::No,
            Tri::Yes(e) => entry = entry.or(e),
            Tri::Unknown(why) => unknown = Some(why),
        }
    }
    unknown.map_or(Tri::Yes(entry), Tri::Unknown)
}

/// Squid's bumping steps for one name (see the module documentation).
fn squid(config: &SquidConfig, host: &str) -> Decision {
    let mut previous: Option<Action> = None;
    for step in 1..=3u8 {
        let mut chosen = None;
        for rule in &config.rules {
            match rule_matches(config, rule, host, step) {
                Tri::No => {}
                Tri::Yes(entry) => {
                    chosen = Some((rule, entry));
                    break;
                }
                Tri::Unknown(why) => {
                    return Decision {
                        status: Status::Undetermined,
                        credit: Some(rule_credit(rule, None)),
                        note: Some(format!("at step {step}, {why}")),
                    };
                }
            }
        }
        let Some((rule, entry)) = chosen else {
            let action = if previous == Some(Action::Stare) {
                Action::Bump
            } else {
                Action::Splice
            };
            return Decision {
                status: if action == Action::Splice {
                    Status::Exempt
                } else {
                    Status::NotExempt
                },
                credit: Some(Credit {
                    origin: None,
                    text: format!(
                        "no ssl_bump rule matches at step {step}: squid's default is to {}",
                        action.as_str()
                    ),
                }),
                note: None,
            };
        };
        let action = match (rule.action, step) {
            (Action::Peek | Action::Stare, 1 | 2) => {
                previous = Some(rule.action);
                continue;
            }
            // Peeking and staring are not final actions; at the last step they end as the
            // connection can: spliced after a peek, bumped after a stare.
            (Action::Peek, _) => Action::Splice,
            (Action::Stare, _) => Action::Bump,
            (a, _) => a,
        };
        return Decision {
            status: if action == Action::Splice {
                Status::Exempt
            } else {
                Status::NotExempt
            },
            credit: Some(rule_credit(rule, entry)),
            note: (action != Action::Splice)
                .then(|| format!("squid's final action is {}", action.as_str())),
        };
    }
    // The loop returns at step 3 at the latest.
    Decision {
        status: Status::Undetermined,
        credit: None,
        note: None,
    }
}

fn rule_credit(rule: &Rule, entry: Option<&Entry>) -> Credit {
    match entry {
        Some(e) => Credit {
            origin: Some(e.origin.clone()),
            text: format!("{} (rule '{}' at {})", e.text, rule.text, rule.origin),
        },
        None => Credit {
            origin: Some(rule.origin.clone()),
            text: rule.text.clone(),
        },
    }
}

/// The URL a PAC is asked about for a host on a port.
fn url(host: &str, port: u16) -> String {
    match port {
        80 => format!("http://{host}/"),
        443 => format!("https://{host}/"),
        p => format!("https://{host}:{p}/"),
    }
}

fn pac_decide(pac: &mut Pac, host: &str, ports: &[u16]) -> Result<Decision, PacError> {
    let mut first_direct: Option<String> = None;
    for &port in ports {
        let answer = pac.find_proxy(&url(host, port), host)?;
        match routes(&answer).first() {
            Some(Route::Direct) => {
                first_direct.get_or_insert(answer);
            }
            _ => {
                return Ok(Decision {
                    status: Status::NotExempt,
                    credit: Some(Credit {
                        origin: None,
                        text: format!("FindProxyForURL answered \"{answer}\""),
                    }),
                    note: Some(format!(
                        "{} goes to \"{answer}\", not DIRECT",
                        url(host, port)
                    )),
                });
            }
        }
    }
    Ok(Decision {
        status: Status::Exempt,
        credit: first_direct.map(|a| Credit {
            origin: None,
            text: format!("FindProxyForURL answered \"{a}\""),
        }),
        note: None,
    })
}

/// The entries that cover nothing in the catalog, and the broad ones (by their patterns).
fn entries(list: &ExemptionList, catalog: &[Row]) -> (Vec<Flagged>, Vec<Flagged>) {
    let listed: Vec<&Entry> = match &list.kind {
        ListKind::Names(entries) => entries.iter().collect(),
        ListKind::Squid(config) => spliced_values(config),
        ListKind::Pac(_) => Vec::new(),
    };
    let mut unused = Vec::new();
    let mut broad = Vec::new();
    for e in listed {
        let credit = Credit {
            origin: Some(e.origin.clone()),
            text: e.text.clone(),
        };
        if let Some(why) = e.pattern.broad() {
            broad.push(Flagged { credit, why });
        } else if !catalog.iter().any(|r| relates(&e.pattern, r)) {
            unused.push(Flagged {
                credit,
                why: "covers no host or wildcard that Apple or the MDM vendors list".to_owned(),
            });
        }
    }
    (unused, broad)
}

/// The host patterns of the ACLs that `splice` rules name (not negated), `any-of`/`all-of`
/// followed.
fn spliced_values(config: &SquidConfig) -> Vec<&Entry> {
    let mut names: Vec<&str> = config
        .rules
        .iter()
        .filter(|r| r.action == Action::Splice)
        .flat_map(|r| r.conditions.iter().filter(|c| !c.negated))
        .map(|c| c.acl.as_str())
        .collect();
    let mut out: Vec<&Entry> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    while let Some(name) = names.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        match config.acl(name).map(|a| &a.kind) {
            Some(AclKind::Names { values, .. }) => out.extend(values.iter()),
            Some(AclKind::AnyOf(more) | AclKind::AllOf(more)) => {
                names.extend(more.iter().map(String::as_str));
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| a.origin.cmp(&b.origin));
    out
}

/// Whether a pattern has to do with a catalog row: it matches the host, covers the row's
/// wildcard, or names something under it.
fn relates(pattern: &Pattern, row: &Row) -> bool {
    let wildcard = row
        .pattern
        .as_deref()
        .or(row.host.starts_with("*.").then_some(row.host.as_str()))
        .and_then(|p| p.strip_prefix("*."));
    if !row.host.starts_with("*.") && pattern.matches(&row.host) {
        return true;
    }
    let Some(w) = wildcard else {
        return false;
    };
    match pattern {
        Pattern::Any => true,
        Pattern::Exact(name) => is_under(name, w),
        Pattern::Subdomains(d) | Pattern::Domain(d) => d == w || is_under(d, w) || is_under(w, d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::exemptions::parse;

    fn row(host: &str, pattern: Option<&str>, port: u16) -> Row {
        let text = format!(
            "version = 1\n[[source]]\nid = \"s\"\n[[section]]\nid = \"x\"\ntitle = \"X\"\n[[entry]]\nhosts = [\"{host}\"]\n{}ports = [{port}]\ntransport = \"tcp\"\nsection = \"x\"\nsource = \"s\"\n",
            pattern.map_or(String::new(), |p| format!("pattern = \"{p}\"\n"))
        );
        crate::catalog::Catalog::from_text(&text, "t", &Default::default())
            .expect("catalog")
            .rows
            .remove(0)
    }

    fn run(text: &str, format: ListFormat, rows: &[Row]) -> ExemptionCheck {
        let list = parse(text, "list", None, format, None).expect("list");
        let selected: Vec<&Row> = rows.iter().collect();
        check(&list, &selected, rows).expect("check")
    }

    fn status(c: &ExemptionCheck, host: &str) -> Status {
        c.hosts
            .iter()
            .find(|h| h.host == host)
            .map(|h| h.status)
            .expect("host checked")
    }

    #[test]
    fn squid_order_negation_and_steps() {
        let rows = [
            row("courier.push.apple.com", Some("*.push.apple.com"), 5223),
            row("gdmf.apple.com", None, 443),
        ];
        let conf = "acl step1 at_step SslBump1\nacl ex ssl::server_name .push.apple.com\nssl_bump peek step1\nssl_bump bump !ex\nssl_bump splice all\n";
        let c = run(conf, ListFormat::Squid, &rows);
        assert_eq!(status(&c, "courier.push.apple.com"), Status::Exempt);
        assert_eq!(status(&c, "gdmf.apple.com"), Status::NotExempt);
        // Without a leading dot, dstdomain is the name alone: the wildcard is not covered.
        let conf = "acl ex dstdomain push.apple.com courier.push.apple.com\nssl_bump splice ex\nssl_bump bump all\n";
        let c = run(conf, ListFormat::Squid, &rows);
        assert_eq!(status(&c, "courier.push.apple.com"), Status::Partly);
        // An ACL on client addresses cannot be decided from a name.
        let conf = "acl lan src 10.0.0.0/8\nacl ex ssl::server_name .apple.com\nssl_bump bump lan\nssl_bump splice ex\n";
        let c = run(conf, ListFormat::Squid, &rows);
        assert_eq!(status(&c, "gdmf.apple.com"), Status::Undetermined);
    }

    #[test]
    fn acls_that_name_themselves_end() {
        let rows = [row("gdmf.apple.com", None, 443)];
        let conf = "acl b dstdomain x.example\nacl a any-of b\nacl a any-of a a a a a a\nssl_bump splice a\nssl_bump bump all\n";
        let c = run(conf, ListFormat::Squid, &rows);
        assert_eq!(status(&c, "gdmf.apple.com"), Status::Undetermined);
    }

    #[test]
    fn an_apex_representative_needs_its_own_entry() {
        let rows = [row("business.apple.com", Some("*.business.apple.com"), 443)];
        let c = run("*.business.apple.com\n", ListFormat::Plain, &rows);
        assert_eq!(status(&c, "business.apple.com"), Status::NotExempt);
        let c = run(".business.apple.com\n", ListFormat::Plain, &rows);
        assert_eq!(status(&c, "business.apple.com"), Status::Exempt);
        let c = run(
            "*.business.apple.com\nbusiness.apple.com\n",
            ListFormat::Plain,
            &rows,
        );
        assert_eq!(status(&c, "business.apple.com"), Status::Exempt);
    }

    #[test]
    fn unused_and_broad_entries_are_flagged() {
        let rows = [row("gdmf.apple.com", None, 443)];
        let c = run(
            "gdmf.apple.com\nwww.example.org\n*.com\n*\n",
            ListFormat::Plain,
            &rows,
        );
        let unused: Vec<&str> = c.unused.iter().map(|f| f.credit.text.as_str()).collect();
        assert_eq!(unused, ["www.example.org"]);
        let broad: Vec<&str> = c.broad.iter().map(|f| f.credit.text.as_str()).collect();
        assert_eq!(broad, ["*.com", "*"]);
    }

    #[test]
    fn a_pac_sending_everything_direct_is_broad() {
        let rows = [row("gdmf.apple.com", None, 443)];
        let c = run(
            "function FindProxyForURL(u, h) { return 'DIRECT'; }",
            ListFormat::Pac,
            &rows,
        );
        assert_eq!(status(&c, "gdmf.apple.com"), Status::Exempt);
        assert_eq!(c.broad.len(), 1);
    }
}
