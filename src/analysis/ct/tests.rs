//! Unit tests of CT verification and Apple's policy, on generated logs and certificates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

const DAY: i64 = 86_400;
/// 2030-01-01T00:00:00Z: every synthetic certificate starts here.
const START: i64 = 1_893_456_000;

fn at(secs: i64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs as u64))
}

/// A log with a fresh P-256 key.
struct TestLog {
    key: EcdsaKeyPair,
    log: CtLog,
}

fn test_log(name: &str, operator: &str, state: LogState) -> TestLog {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let alg = der(
        0x30,
        &[der(0x06, OID_EC_PUBLIC_KEY), der(0x06, OID_P256)].concat(),
    );
    let bits = [&[0u8][..], key.public_key().as_ref()].concat();
    let spki = der(0x30, &[alg, der(0x03, &bits)].concat());
    let mut log_id = [0u8; 32];
    log_id.copy_from_slice(&Sha256::digest(&spki));
    TestLog {
        key,
        log: CtLog {
            log_id,
            key_der: spki,
            description: name.into(),
            operator: operator.into(),
            state,
            state_since: Some(START - 10 * DAY),
            temporal_interval: None,
        },
    }
}

/// A serialized SCT by `log` over `entry` at `ts_ms`.
fn sct(log: &TestLog, ts_ms: u64, entry: &Entry<'_>) -> Vec<u8> {
    let unsigned = Sct {
        log_id: log.log.log_id,
        timestamp: ts_ms,
        extensions: &[],
        hash_alg: HASH_SHA256,
        sig_alg: SIG_ECDSA,
        signature: &[],
    };
    let data = signed_data(&unsigned, entry).unwrap();
    let sig = log.key.sign(&SystemRandom::new(), &data).unwrap();
    let mut out = vec![0u8];
    out.extend_from_slice(&log.log.log_id);
    out.extend_from_slice(&ts_ms.to_be_bytes());
    out.extend_from_slice(&[0, 0, HASH_SHA256, SIG_ECDSA]);
    out.extend_from_slice(&(sig.as_ref().len() as u16).to_be_bytes());
    out.extend_from_slice(sig.as_ref());
    out
}

/// A TLS-encoded SignedCertificateTimestampList.
fn list(scts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for s in scts {
        body.extend_from_slice(&(s.len() as u16).to_be_bytes());
        body.extend_from_slice(s);
    }
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend(body);
    out
}

/// A self-signed leaf valid for `days` from START.
fn leaf(days: i64) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::new(vec!["ct.test".to_owned()]).unwrap();
    params.not_before = OffsetDateTime::from_unix_timestamp(START).unwrap();
    params.not_after = OffsetDateTime::from_unix_timestamp(START + days * DAY - 1).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

/// `cert` with an SCT list extension appended to its extensions (the CA's signature is left
/// as it was: CT checking does not look at it).
fn with_embedded(cert: &[u8], sct_list: &[u8]) -> Vec<u8> {
    let (c, _) = tlv(cert).unwrap();
    let mut parts = Reader(c.content);
    let tbs = parts.next().unwrap();
    let rest = parts.0;
    let ext = der(
        0x30,
        &[der(0x06, OID_SCT_LIST), der(0x04, &der(0x04, sct_list))].concat(),
    );
    let mut content = Vec::new();
    let mut r = Reader(tbs.content);
    while !r.0.is_empty() {
        let el = r.next().unwrap();
        if el.tag == 0xa3 {
            let inner = Reader(el.content).next().unwrap();
            let all = [inner.content, &ext].concat();
            content.extend(der(0xa3, &der(0x30, &all)));
        } else {
            content.extend_from_slice(el.raw);
        }
    }
    der(0x30, &[der(0x30, &content), rest.to_vec()].concat())
}

const ISSUER: &[u8] = b"the issuer's SubjectPublicKeyInfo";

/// A leaf of `days` with embedded SCTs from `logs`, each at START + 1 hour.
fn embedded_leaf(days: i64, logs: &[&TestLog]) -> Vec<u8> {
    let plain = leaf(days);
    let facts = read_leaf(&plain).unwrap();
    let tbs = precert_tbs(facts.tbs).unwrap();
    assert_eq!(tbs, facts.tbs.raw, "no SCT extension: the TBS is unchanged");
    let mut issuer_key_hash = [0u8; 32];
    issuer_key_hash.copy_from_slice(&Sha256::digest(ISSUER));
    let entry = Entry::Precert {
        issuer_key_hash,
        tbs: &tbs,
    };
    let ts = ((START + 3600) * 1000) as u64;
    let scts: Vec<Vec<u8>> = logs.iter().map(|l| sct(l, ts, &entry)).collect();
    with_embedded(&plain, &list(&scts))
}

fn logs(ls: &[&TestLog]) -> Vec<CtLog> {
    ls.iter().map(|l| l.log.clone()).collect()
}

fn statuses(r: &CtReport) -> Vec<SctStatus> {
    r.scts.iter().map(|s| s.status).collect()
}

fn ocsp_with_scts(serial: &[u8], sct_list: &[u8]) -> Vec<u8> {
    let sha1 = der(0x30, &der(0x06, asn1::oid::SHA1));
    let cert_id = der(
        0x30,
        &[
            sha1,
            der(0x04, &[0; 20]),
            der(0x04, &[0; 20]),
            der(0x02, serial),
        ]
        .concat(),
    );
    let ext = der(
        0x30,
        &[
            der(0x06, OID_OCSP_SCT_LIST),
            der(0x04, &der(0x04, sct_list)),
        ]
        .concat(),
    );
    let single = der(
        0x30,
        &[
            cert_id,
            vec![0x80, 0x00],
            der(0x18, b"20300101000000Z"),
            der(0xa1, &der(0x30, &ext)),
        ]
        .concat(),
    );
    let tbs = der(
        0x30,
        &[
            der(0xa2, &der(0x04, &[0; 20])),
            der(0x18, b"20300101000000Z"),
            der(0x30, &single),
        ]
        .concat(),
    );
    let sig_alg = der(
        0x30,
        &der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
    let basic = der(0x30, &[tbs, sig_alg, der(0x03, &[0, 1, 2])].concat());
    let bytes = der(
        0x30,
        &[der(0x06, asn1::oid::OCSP_BASIC), der(0x04, &basic)].concat(),
    );
    der(0x30, &[der(0x0a, &[0]), der(0xa0, &bytes)].concat())
}

#[test]
fn sct_lists_split_and_refuse_bad_lengths() {
    let a = vec![1u8; 5];
    let b = vec![2u8; 3];
    let l = list(&[a.clone(), b.clone()]);
    assert_eq!(split_list(&l).unwrap(), vec![&a[..], &b[..]]);
    assert!(split_list(&[]).is_err());
    assert!(split_list(&[0]).is_err());
    assert!(split_list(&l[..l.len() - 1]).is_err(), "truncated");
    let mut trailing = l.clone();
    trailing.push(0);
    assert!(split_list(&trailing).is_err(), "stray bytes");
    assert!(split_list(&[0, 2, 0, 0]).is_err(), "an empty SCT");
    assert!(
        split_list(&[0, 3, 0, 5, 1]).is_err(),
        "an SCT longer than the list"
    );
    assert_eq!(split_list(&[0, 0]).unwrap().len(), 0);
}

#[test]
fn scts_parse_and_refuse_truncation_and_other_versions() {
    let log = test_log("A", "Op A", LogState::Usable);
    let s = sct(&log, 1234, &Entry::X509(b"cert"));
    let parsed = parse_sct(&s).unwrap();
    assert_eq!(parsed.log_id, log.log.log_id);
    assert_eq!(parsed.timestamp, 1234);
    assert_eq!((parsed.hash_alg, parsed.sig_alg), (HASH_SHA256, SIG_ECDSA));
    for n in 0..s.len() {
        assert!(parse_sct(&s[..n]).is_err(), "truncated at {n}");
    }
    let mut v2 = s.clone();
    v2[0] = 1;
    assert!(parse_sct(&v2).unwrap_err().contains("version 1"));
    let mut long = s.clone();
    long.push(9);
    assert!(parse_sct(&long).is_err());
}

#[test]
fn the_precertificate_drops_only_the_sct_extension() {
    let plain = leaf(90);
    let with = with_embedded(&plain, &list(&[vec![7; 40]]));
    let before = read_leaf(&plain).unwrap();
    let after = read_leaf(&with).unwrap();
    assert!(after.sct_extension.is_some());
    assert_ne!(before.tbs.raw, after.tbs.raw);
    assert_eq!(precert_tbs(after.tbs).unwrap(), before.tbs.raw);

    // A TBS whose only extension is the SCT list loses `[3]` altogether.
    let ext = der(
        0x30,
        &[der(0x06, OID_SCT_LIST), der(0x04, &der(0x04, &[0, 0]))].concat(),
    );
    let body = [der(0x02, &[5]), der(0xa3, &der(0x30, &ext))].concat();
    let tbs_der = der(0x30, &body);
    let (tbs, _) = tlv(&tbs_der).unwrap();
    assert_eq!(precert_tbs(tbs).unwrap(), der(0x30, &der(0x02, &[5])));
}

#[test]
fn lifetimes_count_as_apple_counts_them() {
    let facts = |nb, na| Facts {
        tbs: tlv(&[0x30, 0]).unwrap().0,
        serial: &[1],
        not_before: nb,
        not_after: na,
        sct_extension: None,
    };
    assert_eq!(facts(0, 180 * DAY - 1).lifetime_days(), 180);
    assert_eq!(facts(0, 180 * DAY).lifetime_days(), 181);
    assert_eq!(facts(0, 0).lifetime_days(), 1);
    assert_eq!(facts(10, 0).lifetime_days(), 0);
}

#[test]
fn tls_scts_from_two_operators_comply() {
    let a = test_log("A", "Op A", LogState::Usable);
    let b = test_log("B", "Op B", LogState::Qualified);
    let cert = leaf(90);
    let ts = ((START + 60) * 1000) as u64;
    let tls = list(&[
        sct(&a, ts, &Entry::X509(&cert)),
        sct(&b, ts, &Entry::X509(&cert)),
    ]);
    let r = evaluate(
        &cert,
        None,
        Some(&tls),
        None,
        &logs(&[&a, &b]),
        at(START + DAY),
    );
    assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
    assert!(r.compliant, "{}", summary(&r));
    assert_eq!(r.route, CtRoute::Delivered);
    assert_eq!((r.required, r.verified, r.operators), (2, 2, 2));
    assert_eq!(r.operator_names, vec!["Op A", "Op B"]);

    // The same from one operator is not enough.
    let a2 = test_log("A2", "Op A", LogState::Usable);
    let tls = list(&[
        sct(&a, ts, &Entry::X509(&cert)),
        sct(&a2, ts, &Entry::X509(&cert)),
    ]);
    let r = evaluate(
        &cert,
        None,
        Some(&tls),
        None,
        &logs(&[&a, &a2]),
        at(START + DAY),
    );
    assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
    assert!(!r.compliant);
    assert_eq!(r.route, CtRoute::Delivered);
    assert!(summary(&r).ends_with("not compliant"), "{}", summary(&r));

    // An SCT over another certificate does not verify over this one.
    let other = leaf(90);
    let tls = list(&[sct(&a, ts, &Entry::X509(&other))]);
    let r = evaluate(&cert, None, Some(&tls), None, &logs(&[&a]), at(START + DAY));
    assert_eq!(statuses(&r), vec![SctStatus::InvalidSignature]);
}

#[test]
fn ocsp_scts_are_read_from_the_single_response_for_this_certificate() {
    let a = test_log("A", "Op A", LogState::Usable);
    let b = test_log("B", "Op B", LogState::ReadOnly);
    let cert = leaf(90);
    let serial = read_leaf(&cert).unwrap().serial.to_vec();
    let ts = ((START + 60) * 1000) as u64;
    let scts = list(&[
        sct(&a, ts, &Entry::X509(&cert)),
        sct(&b, ts, &Entry::X509(&cert)),
    ]);
    let ocsp = ocsp_with_scts(&serial, &scts);
    let r = evaluate(
        &cert,
        None,
        None,
        Some(&ocsp),
        &logs(&[&a, &b]),
        at(START + DAY),
    );
    assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
    assert!(r.scts.iter().all(|s| s.source == SctSource::Ocsp));
    assert!(r.compliant);

    let ocsp = ocsp_with_scts(&[0x42], &scts);
    let r = evaluate(
        &cert,
        None,
        None,
        Some(&ocsp),
        &logs(&[&a, &b]),
        at(START + DAY),
    );
    assert!(r.scts.is_empty());
    assert!(r.notes[0].contains("another certificate"), "{:?}", r.notes);

    let r = evaluate(
        &cert,
        None,
        None,
        Some(b"<html>"),
        &logs(&[&a]),
        at(START + DAY),
    );
    assert!(r.scts.is_empty());
    assert!(r.notes[0].contains("OCSP"), "{:?}", r.notes);
}

#[test]
fn embedded_scts_count_by_lifetime_and_operator() {
    let g1 = test_log("G1", "Google", LogState::Usable);
    let g2 = test_log("G2", "Google", LogState::Usable);
    let g3 = test_log("G3", "Google", LogState::Usable);
    let s1 = test_log("S1", "Sectigo", LogState::Usable);
    let all = logs(&[&g1, &g2, &g3, &s1]);
    let when = at(START + DAY);
    let check = |days, with: &[&TestLog]| {
        let cert = embedded_leaf(days, with);
        evaluate(&cert, Some(ISSUER), None, None, &all, when)
    };

    let r = check(90, &[&g1, &s1]);
    assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
    assert!(r.compliant, "{}", summary(&r));
    assert_eq!((r.required, r.lifetime_days), (2, Some(90)));
    assert_eq!(r.route, CtRoute::Embedded);

    let r = check(90, &[&g1, &g2]);
    assert!(
        !r.compliant,
        "one operator counts once for a short certificate"
    );

    let r = check(181, &[&g1, &s1]);
    assert_eq!(r.required, 3);
    assert!(!r.compliant, "two SCTs are too few past 180 days");

    let r = check(398, &[&g1, &g2, &s1]);
    assert!(r.compliant, "{}", summary(&r));
    assert!(summary(&r).contains("asks 3 for a 398-day certificate: compliant"));

    let r = check(398, &[&g1, &g2, &g3]);
    assert_eq!(statuses(&r), vec![SctStatus::Verified; 3]);
    assert!(!r.compliant, "at most two per operator count");

    // The same SCTs with the wrong issuer key, or none.
    let cert = embedded_leaf(90, &[&g1, &s1]);
    let r = evaluate(&cert, Some(b"another key"), None, None, &all, when);
    assert_eq!(statuses(&r), vec![SctStatus::InvalidSignature; 2]);
    let r = evaluate(&cert, None, None, None, &all, when);
    assert_eq!(statuses(&r), vec![SctStatus::IssuerUnknown; 2]);
    assert!(!r.compliant);
}

#[test]
fn a_log_rejected_after_the_moment_of_judgement_still_counts_then() {
    let mut a = test_log("A", "Op A", LogState::Rejected);
    a.log.state_since = Some(START + 400 * DAY);
    let mut b = test_log("B", "Op B", LogState::Rejected);
    b.log.state_since = Some(START + 400 * DAY);
    let all = logs(&[&a, &b]);
    let cert = embedded_leaf(90, &[&a, &b]);
    let before = evaluate(&cert, Some(ISSUER), None, None, &all, at(START + DAY));
    assert_eq!(statuses(&before), vec![SctStatus::Verified; 2]);
    assert!(before.compliant);
    let after = evaluate(&cert, Some(ISSUER), None, None, &all, at(START + 401 * DAY));
    assert_eq!(statuses(&after), vec![SctStatus::LogNotAccepted; 2]);
    assert!(!after.compliant);
}

#[test]
fn log_states_and_shards_decide_what_counts() {
    let mut retired_after = test_log("R1", "Op R", LogState::Retired);
    retired_after.log.state_since = Some(START + 2 * 3600);
    let mut retired_before = test_log("R2", "Op R", LogState::Retired);
    retired_before.log.state_since = Some(START);
    let rejected = test_log("X", "Op X", LogState::Rejected);
    let pending = test_log("P", "Op P", LogState::Pending);
    let usable = test_log("U", "Op U", LogState::Usable);
    let mut shard = test_log("S", "Op S", LogState::Usable);
    shard.log.temporal_interval = Some((START + 365 * DAY, START + 730 * DAY));
    let all = logs(&[
        &retired_after,
        &retired_before,
        &rejected,
        &pending,
        &usable,
        &shard,
    ]);
    let cert = embedded_leaf(
        90,
        &[
            &retired_after,
            &retired_before,
            &rejected,
            &pending,
            &usable,
            &shard,
        ],
    );
    let r = evaluate(&cert, Some(ISSUER), None, None, &all, at(START + DAY));
    assert_eq!(
        statuses(&r),
        vec![
            SctStatus::Verified,
            SctStatus::LogNotAccepted,
            SctStatus::LogNotAccepted,
            SctStatus::LogNotAccepted,
            SctStatus::Verified,
            SctStatus::LogNotAccepted,
        ]
    );
    assert!(r.compliant, "retired-after + usable, two operators");
    assert!(r.scts[5].detail.as_deref().unwrap().contains("expiring"));

    // Only a once-approved log and no currently approved one: not enough.
    let other_retired = {
        let mut l = test_log("R3", "Op Q", LogState::Retired);
        l.log.state_since = Some(START + 2 * 3600);
        l
    };
    let all = logs(&[&retired_after, &other_retired]);
    let cert = embedded_leaf(90, &[&retired_after, &other_retired]);
    let r = evaluate(&cert, Some(ISSUER), None, None, &all, at(START + DAY));
    assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
    assert!(!r.compliant);

    // Judged before the SCTs were issued.
    let r = evaluate(&cert, Some(ISSUER), None, None, &all, at(START));
    assert_eq!(statuses(&r), vec![SctStatus::FutureTimestamp; 2]);
}

#[test]
fn unknown_logs_and_garbage_never_panic() {
    let a = test_log("A", "Op A", LogState::Usable);
    let cert = leaf(90);
    let ts = ((START + 60) * 1000) as u64;
    let good = list(&[sct(&a, ts, &Entry::X509(&cert))]);

    let r = evaluate(&cert, None, Some(&good), None, &[], at(START + DAY));
    assert_eq!(statuses(&r), vec![SctStatus::UnknownLog]);
    assert_eq!(r.scts[0].log_id, BASE64.encode(a.log.log_id));

    let r = evaluate(&cert, None, Some(&[0, 9, 1]), None, &[], at(START + DAY));
    assert_eq!(statuses(&r), vec![SctStatus::Malformed]);
    assert!(
        summary(&r).contains("0 of 1 SCT verified"),
        "{}",
        summary(&r)
    );

    let r = evaluate(
        b"not a certificate",
        None,
        Some(&good),
        None,
        &logs(&[&a]),
        at(0),
    );
    assert_eq!(statuses(&r), vec![SctStatus::Malformed]);
    assert!(!r.notes.is_empty());
    assert!(!r.compliant);

    // Every truncation and every single-byte change of a leaf with embedded SCTs, and of a
    // TLS list, is judged without panicking.
    let embedded = embedded_leaf(90, &[&a]);
    let l = logs(&[&a]);
    for n in 0..embedded.len() {
        let _ = evaluate(
            &embedded[..n],
            Some(ISSUER),
            None,
            None,
            &l,
            at(START + DAY),
        );
    }
    for i in (0..embedded.len()).step_by(7) {
        let mut bad = embedded.clone();
        bad[i] ^= 0xff;
        let _ = evaluate(
            &bad,
            Some(ISSUER),
            Some(&bad),
            Some(&bad),
            &l,
            at(START + DAY),
        );
    }
    for n in 0..good.len() {
        let r = evaluate(&cert, None, Some(&good[..n]), None, &l, at(START + DAY));
        assert!(statuses(&r).iter().all(|&s| s == SctStatus::Malformed));
    }
}

#[test]
fn no_scts_is_said_plainly_and_serializes() {
    let cert = leaf(90);
    let r = evaluate(&cert, Some(ISSUER), None, None, &[], at(START + DAY));
    assert!(r.scts.is_empty());
    assert!(!r.compliant);
    assert_eq!(
        summary(&r),
        "No SCTs (none embedded in the certificate, in the TLS extension or in a stapled \
         OCSP response); Apple's policy asks 2 for a 90-day certificate: not compliant"
    );
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["compliant"], false);
    assert_eq!(v["route"], "embedded");
    assert!(v["rule"].as_str().unwrap().contains("180 days"));
    assert_eq!(v["notes"], serde_json::json!([]));
}
