//! The parts of a squid configuration that decide whether a connection is bumped: `acl` lines and
//! `ssl_bump` rules, in order. Everything else in the file is skipped.
//!
//! Understood ACL types: `ssl::server_name` and `dstdomain` (host patterns, squid's leading-dot
//! rule: `.apple.com` is apple.com and every name under it, `apple.com` only itself), their
//! `_regex` forms `ssl::server_name_regex` and `dstdom_regex` (`-i` for case-insensitive),
//! `at_step` (SslBump1–3), `any-of` and `all-of`, and the built-in `all`. ACLs of any other type
//! are kept with their type: rules that depend on them cannot be decided from a host name.
//! A value written as `"/path/file"` is read from that file (one value per line, `#` comments),
//! relative to the configuration's directory; a file that cannot be read is an error naming the
//! line that names it. A line ending in `\` continues on the next.

use std::path::Path;

use super::{Entry, ExemptionsError, Origin, Pattern};

/// The ACLs and `ssl_bump` rules of a squid configuration.
#[derive(Debug, Default)]
pub struct SquidConfig {
    pub acls: Vec<Acl>,
    pub rules: Vec<Rule>,
}

impl SquidConfig {
    /// The ACL with this name (`all` is built in).
    pub fn acl(&self, name: &str) -> Option<&Acl> {
        self.acls.iter().find(|a| a.name == name)
    }
}

/// One named ACL, its values gathered from every `acl NAME TYPE …` line that names it.
#[derive(Debug)]
pub struct Acl {
    pub name: String,
    pub kind: AclKind,
    /// Where it is first defined.
    pub origin: Origin,
}

/// What an ACL tests.
#[derive(Debug)]
pub enum AclKind {
    /// `ssl::server_name` or `dstdomain` (`type` says which): host patterns.
    Names {
        r#type: String,
        values: Vec<Entry>,
    },
    /// `ssl::server_name_regex` or `dstdom_regex`: regular expressions, with where each is.
    Regex {
        r#type: String,
        values: Vec<(fancy_regex::Regex, String, Origin)>,
    },
    /// `at_step`: the bumping steps (1, 2, 3) it matches.
    AtStep(Vec<u8>),
    /// `any-of` / `all-of`: other ACLs by name.
    AnyOf(Vec<String>),
    AllOf(Vec<String>),
    /// `all`, built in.
    All,
    /// Any other type, named: it cannot be decided from a host name.
    Other(String),
}

/// What an `ssl_bump` rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Splice,
    Bump,
    Peek,
    Stare,
    Terminate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Splice => "splice",
            Self::Bump => "bump",
            Self::Peek => "peek",
            Self::Stare => "stare",
            Self::Terminate => "terminate",
        }
    }
}

/// One `ACL` or `!ACL` of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub negated: bool,
    pub acl: String,
}

/// One `ssl_bump ACTION [!]ACL …` line: it applies when every condition holds.
#[derive(Debug)]
pub struct Rule {
    pub action: Action,
    pub conditions: Vec<Condition>,
    pub origin: Origin,
    /// The line as written (continuations joined).
    pub text: String,
}

/// Reads the ACLs and rules; `dir` is where relative `"file"` values are.
pub(super) fn parse(
    text: &str,
    file: &str,
    dir: Option<&Path>,
) -> Result<SquidConfig, ExemptionsError> {
    let mut config = SquidConfig::default();
    config.acls.push(Acl {
        name: "all".to_owned(),
        kind: AclKind::All,
        origin: Origin {
            file: file.to_owned(),
            line: 0,
        },
    });
    for (line_no, line) in logical_lines(text) {
        let origin = Origin {
            file: file.to_owned(),
            line: line_no,
        };
        let bad = |message: String| ExemptionsError::Invalid {
            origin: origin.clone(),
            message,
        };
        let content = line.split('#').next().unwrap_or("").trim();
        let words: Vec<&str> = content.split_whitespace().collect();
        match words.first().copied() {
            Some("acl") => acl_line(&mut config, &words[1..], &origin, dir, content)?,
            Some("ssl_bump") => {
                let Some(action) = words.get(1) else {
                    return Err(bad("ssl_bump needs an action".to_owned()));
                };
                let action = match *action {
                    "splice" | "none" => Action::Splice,
                    "bump" | "client-first" | "server-first" => Action::Bump,
                    "peek" => Action::Peek,
                    "stare" => Action::Stare,
                    "terminate" => Action::Terminate,
                    other => {
                        return Err(bad(format!(
                            "unknown ssl_bump action '{other}' (splice, bump, peek, stare or terminate)"
                        )));
                    }
                };
                let mut conditions = Vec::new();
                for w in &words[2..] {
                    let (negated, name) = match w.strip_prefix('!') {
                        Some(n) => (true, n),
                        None => (false, *w),
                    };
                    if config.acl(name).is_none() {
                        return Err(bad(format!("ssl_bump names the undefined ACL '{name}'")));
                    }
                    conditions.push(Condition {
                        negated,
                        acl: name.to_owned(),
                    });
                }
                config.rules.push(Rule {
                    action,
                    conditions,
                    origin: origin.clone(),
                    text: content.to_owned(),
                });
            }
            _ => {}
        }
    }
    Ok(config)
}

/// Lines with `\` continuations joined, each numbered by where it starts.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
                pending = Some((start, joined));
            }
            None => {
                joined.push_str(line);
                out.push((start, joined));
            }
        }
    }
    out.extend(pending);
    out
}

fn acl_line(
    config: &mut SquidConfig,
    words: &[&str],
    origin: &Origin,
    dir: Option<&Path>,
    content: &str,
) -> Result<(), ExemptionsError> {
    let bad = |message: String| ExemptionsError::Invalid {
        origin: origin.clone(),
        message,
    };
    let (Some(&name), Some(&acl_type)) = (words.first(), words.get(1)) else {
        return Err(bad(format!("'{content}': expected acl NAME TYPE VALUE…")));
    };
    if name == "all" {
        return Err(bad(
            "the ACL 'all' is built in and cannot be redefined".to_owned()
        ));
    }
    // Options come first: `-n`, `-i`, `--client-requested`, … (`--` ends them).
    let mut case_insensitive = false;
    let mut rest = &words[2..];
    while let Some(w) = rest.first() {
        if *w == "--" {
            rest = &rest[1..];
            break;
        }
        if !w.starts_with('-') {
            break;
        }
        case_insensitive |= *w == "-i";
        rest = &rest[1..];
    }
    let mut values: Vec<(String, Origin)> = Vec::new();
    for w in rest {
        match w.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
            Some(path) => values.extend(values_file(path, origin, dir)?),
            None => values.push(((*w).to_owned(), origin.clone())),
        }
    }
    let existing = config.acls.iter().position(|a| a.name == name);
    let kind = match acl_type {
        "ssl::server_name" | "dstdomain" => {
            let mut entries = Vec::new();
            for (v, at) in values {
                let pattern = Pattern::parse(&v).map_err(|m| ExemptionsError::Invalid {
                    origin: at.clone(),
                    message: format!("acl {name} {acl_type}: {m}"),
                })?;
                entries.push(Entry {
                    pattern,
                    text: v,
                    origin: at,
                });
            }
            AclKind::Names {
                r#type: acl_type.to_owned(),
                values: entries,
            }
        }
        "ssl::server_name_regex" | "dstdom_regex" => {
            let mut regexes = Vec::new();
            for (v, at) in values {
                let source = if case_insensitive {
                    format!("(?i){v}")
                } else {
                    v.clone()
                };
                let re =
                    fancy_regex::Regex::new(&source).map_err(|e| ExemptionsError::Invalid {
                        origin: at.clone(),
                        message: format!(
                            "acl {name} {acl_type}: '{v}' is not a regular expression: {e}"
                        ),
                    })?;
                regexes.push((re, v, at));
            }
            AclKind::Regex {
                r#type: acl_type.to_owned(),
                values: regexes,
            }
        }
        "at_step" => {
            let mut steps = Vec::new();
            for (v, at) in values {
                let step = match v.as_str() {
                    "SslBump1" => 1,
                    "SslBump2" => 2,
                    "SslBump3" => 3,
                    other => {
                        return Err(ExemptionsError::Invalid {
                            origin: at,
                            message: format!(
                                "acl {name} at_step: '{other}' is not SslBump1, SslBump2 or SslBump3"
                            ),
                        });
                    }
                };
                steps.push(step);
            }
            AclKind::AtStep(steps)
        }
        "any-of" | "all-of" => {
            let names: Vec<String> = values.into_iter().map(|(v, _)| v).collect();
            if let Some(missing) = names.iter().find(|n| config.acl(n).is_none()) {
                return Err(bad(format!(
                    "acl {name} {acl_type} names the undefined ACL '{missing}'"
                )));
            }
            if acl_type == "any-of" {
                AclKind::AnyOf(names)
            } else {
                AclKind::AllOf(names)
            }
        }
        other => AclKind::Other(other.to_owned()),
    };
    match existing {
        None => config.acls.push(Acl {
            name: name.to_owned(),
            kind,
            origin: origin.clone(),
        }),
        Some(at) => {
            let acl = &mut config.acls[at];
            match (&mut acl.kind, kind) {
                (
                    AclKind::Names { r#type: a, values },
                    AclKind::Names {
                        r#type: b,
                        values: more,
                    },
                ) if *a == b => {
                    values.extend(more);
                }
                (
                    AclKind::Regex { r#type: a, values },
                    AclKind::Regex {
                        r#type: b,
                        values: more,
                    },
                ) if *a == b => {
                    values.extend(more);
                }
                (AclKind::AtStep(steps), AclKind::AtStep(more)) => steps.extend(more),
                (AclKind::AnyOf(names), AclKind::AnyOf(more))
                | (AclKind::AllOf(names), AclKind::AllOf(more)) => names.extend(more),
                (AclKind::Other(a), AclKind::Other(b)) if *a == b => {}
                _ => {
                    return Err(bad(format!(
                        "acl {name} is redefined with another type ({acl_type}; first defined at {})",
                        acl.origin
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The largest values file read (64 MiB).
const MAX_VALUES_FILE: u64 = 64 << 20;

/// The values in a `"/path/file"`: one per line, `#` comments; relative to `dir`.
fn values_file(
    path: &str,
    origin: &Origin,
    dir: Option<&Path>,
) -> Result<Vec<(String, Origin)>, ExemptionsError> {
    let full = match dir {
        Some(d) if Path::new(path).is_relative() => d.join(path),
        _ => Path::new(path).to_path_buf(),
    };
    let cannot = |why: String| ExemptionsError::Invalid {
        origin: origin.clone(),
        message: format!("cannot read the values file {}: {why}", full.display()),
    };
    // A device or a FIFO (`"/dev/zero"`) would never end: regular files only, and not huge.
    let meta = std::fs::metadata(&full).map_err(|e| cannot(e.to_string()))?;
    if !meta.is_file() {
        return Err(cannot("not a regular file".to_owned()));
    }
    if meta.len() > MAX_VALUES_FILE {
        return Err(cannot(format!(
            "{} bytes, more than the {MAX_VALUES_FILE} a values file may have",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(&full).map_err(|e| cannot(e.to_string()))?;
    let shown = full.display().to_string();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("");
        for word in content.split_whitespace() {
            out.push((
                word.to_owned(),
                Origin {
                    file: shown.clone(),
                    line: i + 1,
                },
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acls_gather_and_rules_keep_their_order() {
        let text = "acl step1 at_step SslBump1\nacl ex ssl::server_name .push.apple.com \\\n  gdmf.apple.com\nacl ex ssl::server_name albert.apple.com\nssl_bump peek step1\nssl_bump splice ex\nssl_bump bump all\n";
        let c = parse(text, "squid.conf", None).expect("parses");
        let Some(AclKind::Names { values, .. }) = c.acl("ex").map(|a| &a.kind) else {
            panic!("ex is a names ACL");
        };
        let lines: Vec<usize> = values.iter().map(|v| v.origin.line).collect();
        assert_eq!(lines, [2, 2, 4]);
        let actions: Vec<Action> = c.rules.iter().map(|r| r.action).collect();
        assert_eq!(actions, [Action::Peek, Action::Splice, Action::Bump]);
        assert_eq!(c.rules[1].origin.line, 6);
    }

    #[test]
    fn mistakes_name_their_line() {
        let err = parse(
            "acl a dstdomain .apple.com\nssl_bump splice b\n",
            "s.conf",
            None,
        )
        .expect_err("undefined");
        assert_eq!(
            err.to_string(),
            "s.conf:2: ssl_bump names the undefined ACL 'b'"
        );
        let err = parse("ssl_bump splise all\n", "s.conf", None).expect_err("action");
        assert!(
            err.to_string()
                .starts_with("s.conf:1: unknown ssl_bump action 'splise'")
        );
        let err = parse(
            "acl a dstdomain \"missing.txt\"\n",
            "s.conf",
            Some(Path::new("/nonexistent")),
        )
        .expect_err("file");
        assert!(
            err.to_string()
                .starts_with("s.conf:1: cannot read the values file"),
            "{err}"
        );
    }
}
