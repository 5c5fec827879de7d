//! `pinscope export`: exemption lists people paste into proxies, from the catalog or from an
//! audit's results, checked by the programs that will read them (squid, a JavaScript engine).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;

fn lines(run: &Run) -> Vec<String> {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.lines().map(str::to_owned).collect()
}

#[test]
fn wildcards_stay_wildcards_and_their_representatives_are_never_the_rule() {
    let all = lines(&pinscope(["export"]));
    assert!(all.contains(&"*.push.apple.com".to_string()));
    assert!(all.contains(&"*.icloud.com".to_string()));
    assert!(all.contains(&"gdmf.apple.com".to_string()));
    // SSL inspection is a TCP matter: NTP-only hosts have nothing to exempt.
    assert!(!all.contains(&"time.apple.com".to_string()), "{all:?}");
    // Names chosen to probe a wildcard are covered by it, not listed.
    assert!(
        !all.iter().any(|l| l.ends_with("-courier.push.apple.com")),
        "{all:?}"
    );
    assert!(!all.contains(&"ckdatabasews.icloud.com".to_string()));
    // Every line once.
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len());

    let apns = lines(&pinscope(["export", "--section=apns"]));
    assert!(
        apns.contains(&"*.push.apple.com".to_string())
            || apns.contains(&"courier.push.apple.com".to_string()),
        "{apns:?}"
    );
}

#[test]
fn csv_and_json_carry_ports_sections_and_reasons() {
    let run = pinscope(["export", "--format=csv", "--section=device-setup"]);
    let rows = lines(&run);
    assert_eq!(rows[0], "pattern,kind,ports,sections,reason");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("albert.apple.com,host,443,device-setup,Device activation")),
        "{rows:?}"
    );

    let json = pinscope(["export", "--format=json", "--host=*.push.apple.com"]).json();
    let push = json
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["pattern"] == "*.push.apple.com")
        .unwrap();
    let ports: Vec<u64> = push["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    for p in [5223, 443, 80, 2197] {
        assert!(ports.contains(&p), "{ports:?}");
    }
}

#[test]
fn squid_accepts_the_generated_block() {
    let Some(squid) = require_tool("/usr/sbin/squid", "PINSCOPE_REQUIRE_INTERCEPTORS") else {
        return;
    };
    let block = pinscope(["export", "--format=squid"]);
    assert_eq!(block.code, 0);
    let names: Vec<&str> = block
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("acl pinscope_exempt ssl::server_name "))
        .flat_map(str::split_whitespace)
        .collect();
    assert!(names.contains(&".push.apple.com"), "{}", block.stdout);
    assert!(names.contains(&"gdmf.apple.com"));
    assert!(block.stdout.contains("ssl_bump splice pinscope_exempt"));
    let scratch = Scratch::new();
    let ca = Ca::root("Squid Parse Check CA");
    let cert = scratch.file("ca.pem", &ca.pem);
    let key = scratch.file("ca.key", ca.key_pem());
    let conf = scratch.file(
        "squid.conf",
        &format!(
            "http_port 127.0.0.1:3128 ssl-bump tls-cert={} tls-key={} generate-host-certificates=off\n{}ssl_bump bump all\nhttp_access allow all\n",
            cert.display(),
            key.display(),
            block.stdout
        ),
    );
    let out = Command::new(squid)
        .args(["-k", "parse", "-f"])
        .arg(&conf)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "squid -k parse failed:\n{log}");
    assert!(!log.contains("ERROR") && !log.contains("FATAL"), "{log}");
}

/// The PAC runs in a real JavaScript engine (node), with the PAC helper functions defined as
/// browsers define them.
#[test]
fn pac_sends_exempted_hosts_direct_and_the_rest_to_the_proxy() {
    let Some(node) = require_tool("node", "PINSCOPE_REQUIRE_INTERCEPTORS") else {
        return;
    };
    let pac = pinscope([
        "export",
        "--format=pac",
        "--pac-proxy=proxy.corp.example:3128",
    ]);
    assert_eq!(pac.code, 0, "{}", pac.stderr);
    let scratch = Scratch::new();
    let harness = format!(
        "function dnsDomainIs(h, d) {{ return h.length >= d.length && h.substring(h.length - d.length) === d; }}\n\
         {}\n\
         const cases = {{\n\
           'gdmf.apple.com': 'DIRECT', '17-courier.push.apple.com': 'DIRECT', 'GSA.apple.com': 'DIRECT',\n\
           'p62-ckdatabasews.icloud.com': 'DIRECT', 'www.example.com': 'PROXY proxy.corp.example:3128',\n\
           'push.apple.com.evil.example': 'PROXY proxy.corp.example:3128', 'notgdmf.apple.com': 'PROXY proxy.corp.example:3128'\n\
         }};\n\
         let bad = [];\n\
         for (const [h, want] of Object.entries(cases)) {{ const got = FindProxyForURL('https://' + h + '/', h); if (got !== want) bad.push(h + ': ' + got); }}\n\
         if (bad.length) {{ console.error(bad.join('\\n')); process.exit(1); }}\n",
        pac.stdout
    );
    let script = scratch.file("check.js", &harness);
    let out = Command::new(node).arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "PAC answers wrong:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn results_of_an_audit_give_the_list_of_what_was_intercepted() {
    let lab = Lab::new();
    let good = tls_server(&lab.public.leaf(&["deviceenrollment.apple.com"], true));
    let bad = tls_server(&lab.inspection.leaf(&["albert.apple.com"], true));
    let report = lab.scratch.path("report.json");
    let run = lab.audit(
        &[
            ("deviceenrollment.apple.com", good),
            ("albert.apple.com", bad),
        ],
        &["--no-revocation", &format!("--output={}", report.display())],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let list = pinscope([
        "export",
        &format!("--from={}", report.display()),
        "--only=intercepted",
    ]);
    assert_eq!(lines(&list), ["albert.apple.com"]);
    // Without --only: what is not passing.
    let default = pinscope(["export", &format!("--from={}", report.display())]);
    assert_eq!(lines(&default), ["albert.apple.com"]);
    let everything = pinscope([
        "export",
        &format!("--from={}", report.display()),
        "--only=pass,intercepted",
    ]);
    assert_eq!(lines(&everything).len(), 2);
}

#[test]
fn bad_export_input_is_a_usage_error() {
    let scratch = Scratch::new();
    let not_json = scratch.file("x.json", "{ nope");
    let not_report = scratch.file("y.json", "{\"hello\": 1}");
    for (args, words) in [
        (
            vec!["export".to_string(), "--format=pac".into()],
            "--pac-proxy",
        ),
        (
            vec![
                "export".into(),
                "--format=pac".into(),
                "--pac-proxy=nohost".into(),
            ],
            "--pac-proxy 'nohost'",
        ),
        (
            vec!["export".into(), format!("--from={}", not_json.display())],
            "x.json:1: not JSON",
        ),
        (
            vec!["export".into(), format!("--from={}", not_report.display())],
            "not a pinscope report",
        ),
        (
            vec![
                "export".into(),
                format!("--from={}", not_report.display()),
                "--only=nonsense".into(),
            ],
            "--only 'nonsense'",
        ),
        (vec!["export".into(), "--only=intercepted".into()], "--from"),
    ] {
        let run = pinscope(&args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(words), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1);
    }
}
