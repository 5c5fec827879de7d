//! Reading a JSON report (`--format json`) as untyped values: its targets, their finding codes and
//! findings. (tests/json_contract.rs checks the report against a typed mirror of the schema.)

use serde_json::Value;

use super::run::pinscope;

/// The target of a report for `host` (the first, if several ports).
pub fn target<'a>(json: &'a Value, host: &str) -> &'a Value {
    json["targets"]
        .as_array()
        .expect("targets array")
        .iter()
        .find(|t| t["host"] == host)
        .unwrap_or_else(|| panic!("{host} missing from output: {json:#}"))
}

/// The target of a report for `host:port`.
pub fn target_at<'a>(json: &'a Value, host: &str, port: u16) -> &'a Value {
    json["targets"]
        .as_array()
        .expect("targets array")
        .iter()
        .find(|t| t["host"] == host && t["port"] == port)
        .unwrap_or_else(|| panic!("{host}:{port} missing from output: {json:#}"))
}

/// Runs pinscope with `args` (a JSON report), which must not be a usage error; returns the exit
/// code and the report's first target.
pub fn first_target<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> (i32, Value) {
    let run = pinscope(args);
    assert!(run.code != 2, "usage error for {args:?}: {}", run.stderr);
    (run.code, run.json()["targets"][0].clone())
}

/// The finding codes of one target of a JSON report, in order.
pub fn codes(t: &Value) -> Vec<String> {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether a target has a finding with this code.
pub fn has_code(t: &Value, code: &str) -> bool {
    codes(t).iter().any(|c| c == code)
}

/// The first finding with this code; fails the test where there is none.
pub fn finding<'a>(t: &'a Value, code: &str) -> &'a Value {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding in {t:#}"))
}

/// The message of the first finding with this code.
pub fn message<'a>(t: &'a Value, code: &str) -> &'a str {
    finding(t, code)["message"].as_str().unwrap()
}

/// The severity of the first finding with this code.
pub fn severity(t: &Value, code: &str) -> String {
    finding(t, code)["severity"].as_str().unwrap().to_owned()
}

/// The code and message of a target's first finding.
pub fn first_finding(t: &Value) -> (&str, &str) {
    let f = &t["findings"][0];
    (f["code"].as_str().unwrap(), f["message"].as_str().unwrap())
}
