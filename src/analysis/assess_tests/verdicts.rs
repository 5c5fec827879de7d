//! The table: one case per way to each verdict and to each evidence code of interception.

use super::*;

#[test]
fn every_verdict_and_every_evidence_code() {
    let lab = Ca::root("Lab Root", None);
    let other = Ca::root("Other Root", None);
    let mitm = Ca::root("mitmproxy", Some("mitmproxy"));
    let fake_apple = Ca::root("Apple Root CA", Some("Apple Inc."));
    let device = Stores {
        device: vec![&lab],
        ..Stores::default()
    };
    let nobody = Stores::default;
    let host = "lab.example";
    let good = lab.leaf(host);
    let leaf_of_other = other.leaf(host);

    // A leaf that names Lab Root as its issuer, signed by another key under the same name.
    let impostor = Ca::root("Lab Root", None);
    let forged_name = impostor.leaf(host);
    // A leaf that carries its issuer's key, as mitmproxy's do.
    let reused_key = key();
    let reusing = Ca::root_with_key(
        "Proxy CA",
        None,
        KeyPair::from_pem(&reused_key.serialize_pem()).unwrap(),
    );
    let same_key_leaf = reusing.leaf_with(leaf_params(host), &reused_key);
    // A leaf whose SCTs were copied from another certificate.
    let copied_trust = nobody().trust();
    let mut with_scts = leaf_params(host);
    with_scts.custom_extensions = vec![copied_sct_extension(&copied_trust)];
    let scts_leaf = other.leaf_with(with_scts, &key());
    // Issued by a CA nobody has and the server did not send.
    let gateway = Ca::root("Corp Gateway CA", None);
    let gateway_leaf = gateway.leaf("gdmf.apple.com");
    // Out of date.
    let mut expired_params = leaf_params(host);
    expired_params.not_before = datetime!(2024-01-01 0:00 UTC);
    expired_params.not_after = datetime!(2024-06-01 0:00 UTC);
    let expired = lab.leaf_with(expired_params, &key());

    let cases = vec![
        // Pass.
        Case::new(
            "a chain the device view accepts",
            offline(host, &[&good]),
            device.trust(),
            Verdict::Pass,
        )
        .has(&[Code::ChainValid])
        .lacks(&[Code::MissingSct]),
        Case::new(
            "an accepted chain whose TLS profile changed: a warning, not evidence",
            handshake(
                host,
                row(host, "device-management", Some("1.2")),
                &[&good],
                "TLSv1.3",
            ),
            device.trust(),
            Verdict::Pass,
        )
        .has(&[Code::ChainValid, Code::TlsProfileMismatch]),
        Case::new(
            "an inspection CA an MDM profile pins, on a host whose policy allows it",
            offline(
                "humb.apple.com",
                &[&other.leaf("humb.apple.com"), &other.der],
            ),
            Stores {
                transparent: vec![&other],
                ..Stores::default()
            }
            .trust(),
            Verdict::Pass,
        )
        .has(&[Code::TransparentConnectionAllowed]),
        Case::new(
            "the baseline's keys",
            offline(host, &[&good]),
            device.trust(),
            Verdict::Pass,
        )
        .baseline(baseline(host, &good, &lab))
        .has(&[Code::PinMatch]),
        Case::new(
            "a new leaf under the baseline's anchor key",
            offline(host, &[&good]),
            device.trust(),
            Verdict::Pass,
        )
        .baseline(baseline(host, &lab.leaf(host), &lab))
        .has(&[Code::PinRotation])
        .lacks(&[Code::PinMismatch]),
        // Untrusted.
        Case::new(
            "a leaf for another name",
            offline("other.example", &[&good]),
            device.trust(),
            Verdict::Untrusted,
        )
        .has(&[Code::ChainValid, Code::NameMismatch]),
        Case::new(
            "an expired leaf",
            offline(host, &[&expired]),
            device.trust(),
            Verdict::Untrusted,
        )
        .has(&[Code::Expired]),
        Case::new(
            "an issuer nobody sent or holds, on a host with no expectation",
            offline(host, &[&leaf_of_other]),
            nobody().trust(),
            Verdict::Untrusted,
        )
        .has(&[Code::UnknownIssuer]),
        Case::new(
            "a root only public clients trust",
            offline(host, &[&leaf_of_other, &other.der]),
            Stores {
                public: vec![&other],
                ..Stores::default()
            }
            .trust(),
            Verdict::Untrusted,
        )
        .has(&[Code::ChainInvalid]),
        Case::new(
            "Apple's pin for the host fails",
            offline("gdmf.apple.com", &[&lab.leaf("gdmf.apple.com")]),
            device.trust(),
            Verdict::Untrusted,
        )
        .has(&[Code::ChainValid, Code::PinningFailed]),
        // Intercepted: each evidence code.
        Case::new(
            "a root only this machine trusts",
            offline(host, &[&leaf_of_other, &other.der]),
            Stores {
                native: vec![&other],
                ..Stores::default()
            }
            .trust(),
            Verdict::Intercepted,
        )
        .evidence(&[Code::AnchorNativeOnly, Code::MissingSct])
        .headline(Code::AnchorNativeOnly),
        Case::new(
            "a self-signed root no store holds",
            offline(host, &[&leaf_of_other, &other.der]),
            nobody().trust(),
            Verdict::Intercepted,
        )
        .evidence(&[Code::AnchorInNoStore, Code::MissingSct]),
        Case::new(
            "a trusted CA's name on another key",
            offline(host, &[&forged_name]),
            device.trust(),
            Verdict::Intercepted,
        )
        .evidence(&[Code::IssuerSignatureMismatch, Code::MissingSct]),
        Case::new(
            "Apple's root name on a lab key",
            offline(host, &[&fake_apple.leaf(host), &fake_apple.der]),
            nobody().trust(),
            Verdict::Intercepted,
        )
        .evidence(&[
            Code::AnchorInNoStore,
            Code::AppleNamesCopied,
            Code::MissingSct,
        ])
        .headline(Code::AppleNamesCopied),
        Case::new(
            "a leaf with its issuer's key",
            offline(host, &[&same_key_leaf, &reusing.der]),
            nobody().trust(),
            Verdict::Intercepted,
        )
        .evidence(&[
            Code::AnchorInNoStore,
            Code::LeafKeyEqualsIssuerKey,
            Code::MissingSct,
        ]),
        Case::new(
            "SCTs copied onto a forged leaf",
            offline(host, &[&scts_leaf, &other.der]),
            copied_trust,
            Verdict::Intercepted,
        )
        .evidence(&[Code::AnchorInNoStore, Code::SctInvalid])
        .lacks(&[Code::MissingSct]),
        Case::new(
            "a known inspection product's CA",
            offline(host, &[&mitm.leaf(host), &mitm.der]),
            nobody().trust(),
            Verdict::Intercepted,
        )
        .evidence(&[
            Code::AnchorInNoStore,
            Code::KnownInspectionProduct,
            Code::MissingSct,
        ])
        .headline(Code::KnownInspectionProduct),
        Case::new(
            "a TLS version the real server does not speak, on a refused chain",
            handshake(
                host,
                row(host, "device-management", Some("1.2")),
                &[&leaf_of_other, &other.der],
                "TLSv1.3",
            ),
            Stores {
                public: vec![&other],
                ..Stores::default()
            }
            .trust(),
            Verdict::Intercepted,
        )
        .has(&[Code::ChainInvalid])
        .evidence(&[Code::TlsProfileMismatch, Code::MissingSct])
        .headline(Code::TlsProfileMismatch),
        Case::new(
            "an unsent issuer of no family expected for a catalog host",
            observe(
                "gdmf.apple.com",
                Some(row("gdmf.apple.com", "device-management", None)),
                Outcome::Offline {
                    captured: captured(&[&gateway_leaf]),
                },
            ),
            nobody().trust(),
            Verdict::Intercepted,
        )
        .evidence(&[Code::UnexpectedUnknownIssuer, Code::MissingSct])
        .lacks(&[Code::UnknownIssuer]),
        Case::new(
            "an accepted chain under another anchor than the baseline's",
            offline(host, &[&good]),
            device.trust(),
            Verdict::Intercepted,
        )
        .baseline(baseline(host, &leaf_of_other, &other))
        .has(&[Code::ChainValid])
        .evidence(&[Code::PinMismatch])
        .headline(Code::PinMismatch),
        Case::new(
            "an accepted chain with another TLS profile and another anchor than the baseline's",
            handshake(
                host,
                row(host, "device-management", Some("1.2")),
                &[&good],
                "TLSv1.3",
            ),
            device.trust(),
            Verdict::Intercepted,
        )
        .baseline(baseline(host, &leaf_of_other, &other))
        .has(&[Code::TlsProfileMismatch])
        .evidence(&[Code::PinMismatch]),
        // Probe failures, with and without a chain.
        Case::new(
            "refused",
            failed(host, FailureKind::Refused, None),
            nobody().trust(),
            Verdict::Blocked,
        )
        .has(&[Code::ConnectionRefused]),
        Case::new(
            "a valid chain, then a reset: the failure decides",
            failed(host, FailureKind::Reset, Some(&[&good])),
            device.trust(),
            Verdict::Blocked,
        )
        .has(&[Code::ConnectionReset])
        .lacks(&[Code::ChainValid]),
        Case::new(
            "a forged chain, then a reset: the evidence decides",
            failed(
                host,
                FailureKind::Reset,
                Some(&[&mitm.leaf(host), &mitm.der]),
            ),
            nobody().trust(),
            Verdict::Intercepted,
        )
        .has(&[Code::ConnectionReset])
        .evidence(&[
            Code::AnchorInNoStore,
            Code::KnownInspectionProduct,
            Code::MissingSct,
        ]),
        Case::new(
            "no answer in time",
            failed(host, FailureKind::Timeout, None),
            nobody().trust(),
            Verdict::Timeout,
        )
        .has(&[Code::Timeout]),
        Case::new(
            "no such name",
            failed(host, FailureKind::Dns(DnsProblem::NoSuchName), None),
            nobody().trust(),
            Verdict::DnsError,
        )
        .has(&[Code::DnsNxdomain]),
        Case::new(
            "not TLS",
            failed(host, FailureKind::NotTls, None),
            nobody().trust(),
            Verdict::TlsError,
        )
        .has(&[Code::NotTls]),
        Case::new(
            "the proxy wants a login",
            failed(host, FailureKind::Proxy(Some(407)), None),
            nobody().trust(),
            Verdict::ProxyError,
        )
        .has(&[Code::ProxyAuthRequired]),
        Case::new(
            "another protocol answered",
            failed(host, FailureKind::UnexpectedAnswer, None),
            nobody().trust(),
            Verdict::ProtocolError,
        )
        .has(&[Code::UnexpectedAnswer]),
        Case::new(
            "not probed",
            observe(
                host,
                None,
                Outcome::Skipped(crate::model::observation::SkipReason::UnknownUdpPort(9)),
            ),
            nobody().trust(),
            Verdict::Skipped,
        )
        .has(&[Code::NotProbed]),
        // Services.
        Case::new(
            "plain HTTP",
            service(
                "captive.apple.com",
                ServiceAnswer::Http(HttpAnswer {
                    status: 200,
                    reason: "OK".to_owned(),
                    headers: vec![("via".to_owned(), "1.1 squid".to_owned())],
                }),
            ),
            nobody().trust(),
            Verdict::Pass,
        )
        .has(&[Code::HttpAnswered, Code::TransparentProxy]),
        Case::new(
            "a block page",
            service(
                "captive.apple.com",
                ServiceAnswer::Http(HttpAnswer {
                    status: 302,
                    reason: "Found".to_owned(),
                    headers: vec![(
                        "location".to_owned(),
                        "http://filter.example/deny".to_owned(),
                    )],
                }),
            ),
            nobody().trust(),
            Verdict::Blocked,
        )
        .has(&[Code::BlockPage]),
        Case::new(
            "an NTP kiss-of-death",
            service(
                "time.apple.com",
                ServiceAnswer::Ntp(NtpAnswer {
                    stratum: 0,
                    leap: 3,
                    version: 4,
                    reference_id: "RATE".to_owned(),
                    offset_ms: None,
                    round_trip_ms: None,
                }),
            ),
            nobody().trust(),
            Verdict::ProtocolError,
        )
        .has(&[Code::NtpUnsynchronised]),
        Case::new(
            "an SSH banner",
            service(
                "sftp.example",
                ServiceAnswer::Ssh(SshAnswer {
                    banner: "SSH-2.0-lab".to_owned(),
                }),
            ),
            nobody().trust(),
            Verdict::Pass,
        )
        .has(&[Code::SshBanner]),
    ];

    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut evidence: Vec<Code> = Vec::new();
    for case in &cases {
        let a = case.check();
        verdicts.push(a.verdict);
        evidence.extend(
            a.findings
                .iter()
                .filter(|f| f.is_evidence())
                .map(|f| f.code),
        );
    }
    // The table reaches every verdict and every evidence code.
    for v in Verdict::ALL {
        assert!(verdicts.contains(&v), "no case gives {v:?}");
    }
    let all_evidence = [
        Code::AnchorNativeOnly,
        Code::AnchorInNoStore,
        Code::IssuerSignatureMismatch,
        Code::AppleNamesCopied,
        Code::LeafKeyEqualsIssuerKey,
        Code::KnownInspectionProduct,
        Code::TlsProfileMismatch,
        Code::UnexpectedUnknownIssuer,
        Code::SctInvalid,
        Code::PinMismatch,
    ];
    for c in all_evidence {
        assert!(c.evidence_rank().is_some(), "{c:?} is not an evidence code");
        assert!(evidence.contains(&c), "no case shows {c:?}");
    }
}
