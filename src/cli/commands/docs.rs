//! `pinscope completions` and `pinscope man`: documentation generated from the flags.

use anyhow::{Context as _, anyhow};
use clap::CommandFactory;

use super::super::args::{Cli, CompletionsArgs, ManArgs};
use crate::report::exit;
use crate::run::output::write_stdout;

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pinscope", &mut script);
    write_stdout(&String::from_utf8_lossy(&script));
    Ok(exit::OK)
}

pub fn man(args: &ManArgs) -> anyhow::Result<u8> {
    let mut cli = Cli::command();
    // Global flags (`--color`) reach the subcommands' pages.
    cli.build();
    // `baseline save`, `baseline-save` and `pinscope-baseline-save` name the same page.
    let path: Vec<String> = args
        .command
        .iter()
        .flat_map(|a| a.split('-').map(str::to_owned).collect::<Vec<_>>())
        .filter(|p| !p.is_empty())
        .skip_while(|p| p == "pinscope")
        .collect();
    let mut page = cli;
    for (depth, name) in path.iter().enumerate() {
        let known: Vec<String> = page
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .map(|c| c.get_name().to_owned())
            .collect();
        let shown = path[..=depth].join(" ");
        let sub = page.find_subcommand(name).cloned().ok_or_else(|| {
            anyhow!(
                "man '{}': no such command (known: {})",
                crate::report::text::line(&shown),
                known.join(", ")
            )
        })?;
        page = sub
            .display_name(format!("pinscope-{}", path[..=depth].join("-")))
            .bin_name(format!("pinscope {shown}"));
    }
    let mut roff = Vec::new();
    render_page(&page, path.is_empty(), &mut roff).context("cannot render the manual page")?;
    write_stdout(&String::from_utf8_lossy(&roff));
    Ok(exit::OK)
}

/// The page: clap_mangen's sections, then EXIT STATUS and ENVIRONMENT, which clap knows nothing
/// of. The main page's after-help (its exit codes) is the EXIT STATUS section, not an EXTRA one.
fn render_page(
    page: &clap::Command,
    main: bool,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(page.clone())
        .source(format!("pinscope {}", env!("CARGO_PKG_VERSION")));
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    if page
        .get_arguments()
        .any(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
    {
        man.render_options_section(w)?;
    }
    if page.has_subcommands() {
        man.render_subcommands_section(w)?;
    }
    if !main && (page.get_after_help().is_some() || page.get_after_long_help().is_some()) {
        man.render_extra_section(w)?;
    }
    w.write_all(exit_status(page.get_name(), main).as_bytes())?;
    w.write_all(ENVIRONMENT.as_bytes())?;
    if page.get_version().is_some() {
        man.render_version_section(w)?;
    }
    Ok(())
}

/// The EXIT STATUS section (roff) of a page: the audit's codes for the commands that judge, and
/// 0 or 2 for the others.
fn exit_status(name: &str, main: bool) -> String {
    let judges = main || matches!(name, "audit" | "inspect" | "save");
    if name == "check" {
        // `exemptions check` judges a list, not targets.
        return exit_section(&[
            ("0", "Every required host is exempt."),
            (
                "1",
                "At least one required host is not (wholly) exempt by the list.",
            ),
            (
                "2",
                "Usage or input error (bad flags, a list that cannot be read or evaluated).",
            ),
        ]);
    }
    let mut codes = vec![(
        "0",
        if judges {
            "Every target passed (skipped targets do not count against this)."
        } else {
            "Success."
        },
    )];
    if judges {
        codes.push(("1", "At least one target is intercepted."));
        codes.push((
            "3",
            "No interception, but some target failed (blocked, timeout, DNS, TLS, untrusted, \
             proxy or protocol error), or the run deadline left some target unprobed.",
        ));
    }
    codes.push((
        "2",
        "Usage or input error (bad flags, unreadable files, unwritable output).",
    ));
    if judges {
        codes.push(("130", "Interrupted by SIGINT (Ctrl-C) or SIGTERM."));
    }
    exit_section(&codes)
}

fn exit_section(codes: &[(&str, &str)]) -> String {
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in codes {
        out.push_str(&format!(".TP\n\\fB{code}\\fR\n{meaning}\n"));
    }
    out
}

/// The ENVIRONMENT section (roff), the same on every page.
const ENVIRONMENT: &str = r#".SH ENVIRONMENT
.TP
\fBHTTPS_PROXY\fR, \fBhttps_proxy\fR
The HTTP proxy TLS targets are tunnelled through (with CONNECT), as http://[user:pass@]host:port, unless \fB\-\-proxy\fR or \fB\-\-no\-proxy\fR is given.
.TP
\fBALL_PROXY\fR, \fBall_proxy\fR
The proxy when HTTPS_PROXY is not set.
.TP
\fBNO_PROXY\fR, \fBno_proxy\fR
Host names (and domain suffixes) reached directly, not through the proxy; comma\-separated.
.TP
\fBNO_COLOR\fR
When set and not empty, the table is not coloured under \fB\-\-color auto\fR (the default).
.TP
\fBCOLUMNS\fR
The width the table is fitted to when standard output is a terminal (else the terminal's own width); piped or written to a file, the table is never cut.
.TP
\fBSSL_CERT_FILE\fR, \fBSSL_CERT_DIR\fR
Where this machine's native trust store is read from, instead of the system's default, unless \fB\-\-native\-roots\fR is given.
.TP
\fBPINSCOPE_REQUIRE_\fR*
Read by pinscope's test suite, not by pinscope: set to 1 (as CI does), a test fails instead of skipping when the tool it needs is missing.
"#;
