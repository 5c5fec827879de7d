//! `pinscope exemptions check`: a team's own exemption list (plain, CSV, JSON, squid, PAC) read
//! back and judged against the catalog, through the binary. Also the DNS check where the catalog
//! documents the address block (APNs in 17.0.0.0/8), with names resolved to loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde::Deserialize;
use serde_json::Value;

use common::*;

fn check(file: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "exemptions".to_string(),
        "check".into(),
        file.display().to_string(),
        "--output-format=json".into(),
    ];
    args.extend(extra.iter().map(ToString::to_string));
    pinscope(&args)
}

/// The JSON of `exemptions check`, as docs/proxies.md documents it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Check {
    file: String,
    format: String,
    ok: bool,
    hosts: Vec<HostJson>,
    missing: Vec<String>,
    unused: Vec<Note>,
    broad: Vec<Note>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct HostJson {
    host: String,
    ports: Vec<u16>,
    section: String,
    pattern: Option<String>,
    required: bool,
    status: String,
    entry: Option<EntryJson>,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct EntryJson {
    at: Option<String>,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Note {
    entry: EntryJson,
    why: String,
}

fn host<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == name)
        .unwrap_or_else(|| panic!("{name} not checked: {json:#}"))
}

fn missing(json: &Value) -> Vec<String> {
    json["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_squid_splice_acl_without_push_apple_com_leaves_apns_inspected() {
    let scratch = Scratch::new();
    let conf = scratch.file(
        "squid.conf",
        "# exemptions\n\
         acl step1 at_step SslBump1\n\
         acl apple_exempt ssl::server_name .apple.com .icloud.com\n\
         acl apple_exempt ssl::server_name .mzstatic.com\n\
         ssl_bump peek step1\n\
         ssl_bump splice apple_exempt\n\
         ssl_bump bump all\n",
    );
    // .apple.com covers push.apple.com too: take it out, as a team that lists names would.
    let conf_without_push = scratch.file(
        "squid2.conf",
        "acl step1 at_step SslBump1\n\
         acl apple_exempt ssl::server_name gdmf.apple.com albert.apple.com\n\
         ssl_bump peek step1\n\
         ssl_bump splice apple_exempt\n\
         ssl_bump bump all\n",
    );
    let run = check(&conf, &["--section=apns"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let courier = host(&json, "courier.push.apple.com");
    assert_eq!(courier["status"], "exempt");
    assert!(
        courier["entry"]["at"]
            .as_str()
            .unwrap()
            .ends_with("squid.conf:3"),
        "{courier}"
    );

    let run = check(&conf_without_push, &["--section=apns"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert!(missing(&json).contains(&"courier.push.apple.com".to_string()));
    let courier = host(&json, "courier.push.apple.com");
    assert_eq!(courier["status"], "not_exempt");
    // The rule that decided is named with its line.
    assert!(
        courier["entry"]["at"]
            .as_str()
            .unwrap()
            .ends_with("squid2.conf:5"),
        "{courier}"
    );

    // The table says it in words too.
    let table = pinscope([
        "exemptions",
        "check",
        conf_without_push.to_str().unwrap(),
        "--section=apns",
    ]);
    assert_eq!(table.code, 1);
    assert!(table.stdout.contains("Required hosts not exempted:"));
    assert!(
        table.stdout.contains("  courier.push.apple.com (5223,443)"),
        "{}",
        table.stdout
    );
}

#[test]
fn dstdomain_without_a_leading_dot_is_the_name_alone() {
    let scratch = Scratch::new();
    let conf = scratch.file(
        "squid.conf",
        "acl apple dstdomain -n apple.com push.apple.com\nssl_bump splice apple\nssl_bump bump all\n",
    );
    let run = check(&conf, &["--host=*.push.apple.com,gdmf.apple.com"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(host(&json, "gdmf.apple.com")["status"], "not_exempt");
    assert_eq!(
        host(&json, "courier.push.apple.com")["status"],
        "not_exempt"
    );
    assert_eq!(host(&json, "api.push.apple.com")["status"], "not_exempt");
    // The same names with the leading dot cover the subdomains.
    let conf = scratch.file(
        "dotted.conf",
        "acl apple dstdomain .apple.com\nssl_bump splice apple\nssl_bump bump all\n",
    );
    let run = check(&conf, &["--host=*.push.apple.com,gdmf.apple.com"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn pinscopes_own_exports_cover_everything() {
    let scratch = Scratch::new();
    for format in ["plain", "csv", "json", "squid", "pac"] {
        let mut args = vec!["export".to_string(), format!("--format={format}")];
        if format == "pac" {
            args.push("--pac-proxy=proxy.example:3128".into());
        }
        let export = pinscope(&args);
        assert_eq!(export.code, 0, "{format}: {}", export.stderr);
        let file = scratch.file(&format!("export.{format}"), &export.stdout);
        // Detected from the content or the extension, and named explicitly.
        for flag in ["--format=auto".to_string(), format!("--format={format}")] {
            let run = check(&file, &[&flag]);
            assert_eq!(
                run.code, 0,
                "{format} {flag}: {}\n{}",
                run.stdout, run.stderr
            );
            let json = run.json();
            let typed: Check = serde_json::from_value(json.clone()).unwrap();
            assert!(typed.hosts.iter().all(|h| {
                ["exempt", "partly", "not_exempt", "undetermined"].contains(&h.status.as_str())
            }));
            assert_eq!(json["format"], format, "{flag}");
            assert_eq!(json["ok"], true);
            assert!(missing(&json).is_empty(), "{format}: {:?}", missing(&json));
            assert!(
                json["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|h| h["status"] == "exempt"),
                "{format}"
            );
            assert_eq!(json["broad"], Value::Array(vec![]), "{format}");
            assert_eq!(json["unused"], Value::Array(vec![]), "{format}");
        }
    }
}

#[test]
fn a_pac_that_misses_gdmf_is_found() {
    let scratch = Scratch::new();
    let pac = scratch.file(
        "proxy.pac",
        r#"function FindProxyForURL(url, host) {
    host = host.toLowerCase();
    if (dnsDomainIs(host, ".push.apple.com")) return "DIRECT";
    if (host == "albert.apple.com" || shExpMatch(host, "*.icloud.com")) return "DIRECT";
    return "PROXY proxy.example:3128";
}
"#,
    );
    let run = check(
        &pac,
        &["--host=gdmf.apple.com,*.push.apple.com,albert.apple.com"],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["format"], "pac");
    assert_eq!(missing(&json), ["gdmf.apple.com"]);
    let gdmf = host(&json, "gdmf.apple.com");
    assert_eq!(gdmf["status"], "not_exempt");
    assert!(
        gdmf["entry"]["text"]
            .as_str()
            .unwrap()
            .contains("PROXY proxy.example:3128"),
        "{gdmf}"
    );
    assert_eq!(host(&json, "courier.push.apple.com")["status"], "exempt");
    let table = pinscope([
        "exemptions",
        "check",
        pac.to_str().unwrap(),
        "--host=gdmf.apple.com",
    ]);
    assert_eq!(table.code, 1);
    assert!(table.stdout.contains("gdmf.apple.com"), "{}", table.stdout);
}

#[test]
fn broad_and_unrelated_entries_are_flagged() {
    let scratch = Scratch::new();
    let list = scratch.file(
        "exempt.txt",
        "\u{feff}# our list\n*.push.apple.com\nintranet.corp.example  # ours\n*\n.com\n",
    );
    let run = check(&list, &["--section=apns"]);
    // `*` exempts everything, so nothing is missing: but it is flagged.
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let broad: Vec<&str> = json["broad"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["entry"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(broad, ["*", ".com"]);
    assert!(
        json["broad"][0]["entry"]["at"]
            .as_str()
            .unwrap()
            .ends_with("exempt.txt:4")
    );
    let unused = &json["unused"][0];
    assert_eq!(unused["entry"]["text"], "intranet.corp.example");
    assert!(
        unused["entry"]["at"]
            .as_str()
            .unwrap()
            .ends_with("exempt.txt:3")
    );
    // Markdown escapes what the file says.
    let md = pinscope([
        "exemptions",
        "check",
        list.to_str().unwrap(),
        "--section=apns",
        "--output-format=markdown",
    ]);
    assert!(
        md.stdout.contains("## Dangerously broad entries"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("\\*"), "{}", md.stdout);
}

#[test]
fn a_bad_line_is_exit_2_naming_file_and_line() {
    let scratch = Scratch::new();
    let conf = scratch.file(
        "squid.conf",
        "acl ex ssl::server_name .push.apple.com\nssl_bump splice ex\nssl_bump splise all\n",
    );
    let run = check(&conf, &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.is_empty());
    let line = run.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("squid.conf:3:"), "{line}");
    assert!(line.contains("splise"), "{line}");

    // A values file that cannot be read is named on the line that names it.
    let conf = scratch.file(
        "files.conf",
        "acl ex ssl::server_name \"missing-list.txt\"\nssl_bump splice ex\n",
    );
    let run = check(&conf, &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("files.conf:1:"), "{}", run.stderr);
    assert!(run.stderr.contains("missing-list.txt"), "{}", run.stderr);
    // One relative to the configuration is read.
    scratch.file("list.txt", "# apns\n.push.apple.com\n");
    let conf = scratch.file(
        "files2.conf",
        "acl ex ssl::server_name \"list.txt\"\nssl_bump splice ex\nssl_bump bump all\n",
    );
    let run = check(&conf, &["--section=apns"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        host(&run.json(), "courier.push.apple.com")["entry"]["at"]
            .as_str()
            .unwrap()
            .ends_with("list.txt:2")
    );

    // A plain list with something that is not a host pattern, controls escaped.
    let list = scratch.file("bad.txt", "gdmf.apple.com\nfoo\u{1b}[31m.com\n");
    let run = check(&list, &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("bad.txt:2:"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
}

#[test]
fn an_apns_name_resolved_outside_17_0_0_0_8_is_reported() {
    // Nothing listens on these loopback ports: the connection is refused, and the verdict says
    // so; the finding says where the name pointed.
    let run = audit_within(
        &[
            "courier.push.apple.com:5223".into(),
            resolve("courier.push.apple.com", 5223),
            "gdmf.apple.com:443".into(),
            resolve("gdmf.apple.com", 443),
        ],
        5,
    );
    let json = run.json();
    let courier = target(&json, "courier.push.apple.com");
    assert!(
        has_code(courier, "address_outside_documented_network"),
        "{courier:#}"
    );
    assert_eq!(
        severity(courier, "address_outside_documented_network"),
        "warning"
    );
    let message = message(courier, "address_outside_documented_network");
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(message.contains("a --resolve rule"), "{message}");
    assert!(message.contains("17.0.0.0/8"), "{message}");
    assert_ne!(courier["verdict"], "pass");
    // gdmf.apple.com has no documented network.
    let gdmf = target(&json, "gdmf.apple.com");
    assert!(
        !has_code(gdmf, "address_outside_documented_network"),
        "{gdmf:#}"
    );
}

/// A user catalog row for a lab server on loopback, documented in 17.0.0.0/8 as APNs is.
fn documented_row(scratch: &Scratch, host: &str, port: u16, cidr: &str) -> String {
    let catalog = scratch.file(
        "catalog.toml",
        &format!(
            "version = 1\n\n[[entry]]\nhosts = [\"{host}\"]\nports = [{port}]\ntransport = \"tcp\"\nsection = \"apns\"\nsource = \"apns-networking\"\nnetworks = [{{ cidr = \"{cidr}\", source = \"apns-networking\" }}]\n"
        ),
    );
    format!("--catalog={}", catalog.display())
}

#[test]
fn the_verdict_follows_the_connection_and_the_finding_names_the_dns_server() {
    let lab = Lab::new();
    let host = "courier.pinscope.test";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let dns = DnsServer::start(&[(host, Zone::v4(std::net::Ipv4Addr::LOCALHOST))]);
    let catalog = documented_row(&lab.scratch, host, port, "17.0.0.0/8");
    let run = audit_within(
        &[
            catalog.clone(),
            format!("--host={host}"),
            dns.flag(),
            lab.public_roots(),
        ],
        5,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let t = target(&json, host);
    // A genuine server answered on that address: the verdict is its.
    assert_eq!(t["verdict"], "pass", "{t:#}");
    let message = message(t, "address_outside_documented_network");
    assert!(
        message.contains(&format!("the DNS server {} (--dns-server)", dns.addr)),
        "{message}"
    );

    // --connect-to sends the name elsewhere: those addresses are another host's.
    let run = audit_within(
        &[
            catalog,
            format!("--host={host}"),
            format!("--connect-to={host}:{port}:localhost:{port}"),
            format!("--resolve=localhost:{port}:127.0.0.1"),
            lab.public_roots(),
        ],
        5,
    );
    let t = target(&run.json(), host).clone();
    assert!(!has_code(&t, "address_outside_documented_network"), "{t:#}");

    // A block that is not one is refused with its line.
    let bad = documented_row(&lab.scratch, host, port, "17.1.0.0/8");
    let run = pinscope(["catalog", bad.as_str()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("catalog.toml:"), "{}", run.stderr);
    assert!(run.stderr.contains("networks"), "{}", run.stderr);
    assert!(run.stderr.contains("17.1.0.0/8"), "{}", run.stderr);
}

#[test]
fn a_pac_that_loops_or_does_not_parse_is_one_line_and_exit_2() {
    let scratch = Scratch::new();
    let looping = scratch.file(
        "loop.pac",
        "function FindProxyForURL(url, host) { while (true) {} }\n",
    );
    let run = pinscope_within(
        [
            "exemptions",
            "check",
            looping.to_str().unwrap(),
            "--host=gdmf.apple.com",
        ],
        std::time::Duration::from_secs(40),
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("loop.pac"), "{}", run.stderr);
    assert!(
        run.stderr.contains("loop iteration limit"),
        "{}",
        run.stderr
    );

    let broken = scratch.file(
        "broken.pac",
        "function FindProxyForURL(url, host) {\n  return \"DIRECT\"\n  var x = ;\n}\n",
    );
    let run = check(&broken, &[]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);

    // A PAC whose answer depends on the clock is refused, naming the helper.
    let clock = scratch.file(
        "clock.pac",
        "function FindProxyForURL(url, host) { return timeRange(9, 17) ? \"DIRECT\" : \"PROXY p:1\"; }\n",
    );
    let run = check(&clock, &["--host=gdmf.apple.com"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("timeRange"), "{}", run.stderr);
}
