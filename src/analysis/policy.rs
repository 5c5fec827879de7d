//! The verdict policy, in one place: what each finding code means for the verdict (one table,
//! [`Code::role`]), and the one function that turns a target's graded findings into its verdict
//! and its interception record ([`decide`]). The stages that judge a chain, a failure, a service
//! answer, a baseline or revocation only push findings; none of them sets a verdict.
//!
//! The rule, in order:
//! 1. evidence of interception (an evidence code graded as an error) makes it `intercepted`,
//!    whatever else happened: a middlebox that forges and then drops is still the cause;
//! 2. otherwise a probe failure (or a service's wrong answer, or no probe at all) gives the
//!    verdict of its code;
//! 3. otherwise a refusal (a reason devices refuse the chain, graded as an error) makes it
//!    `untrusted`;
//! 4. otherwise a chain devices accept, or a service that answered in its protocol, is `pass`;
//! 5. anything else (a chain no view accepts, with nothing more to say) is `untrusted`.

use super::{Code, Finding, Severity};
use super::{Interception, Verdict};

/// What a finding code means for the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Evidence of interception, when graded as an error. `rank` orders the evidence from the most
    /// telling (0): what a one-line view shows first.
    Evidence { rank: u8 },
    /// Supports evidence on a chain devices refuse (`missing_sct`: forged leaves seldom embed
    /// SCTs), but is never evidence on its own.
    Supports,
    /// A reason devices refuse the chain, when graded as an error.
    Refusal,
    /// Devices accept the chain, or a service answered in its protocol.
    Acceptance,
    /// The probe failed, the service answered wrongly or nothing was probed: the verdict, unless
    /// evidence outranks it.
    Failure(Verdict),
    /// Context: says something about the target, decides nothing.
    Context,
}

impl Code {
    /// What this code means for the verdict: the whole evidence policy as one table.
    pub fn role(self) -> Role {
        use Role::{Acceptance, Context, Evidence, Failure, Refusal, Supports};
        match self {
            // Evidence, most telling first: the product, copied names, a baseline substitution,
            // the anchor, a reused key, a forged signature; then the rest.
            Self::KnownInspectionProduct => Evidence { rank: 0 },
            Self::AppleNamesCopied => Evidence { rank: 1 },
            Self::PinMismatch => Evidence { rank: 2 },
            Self::AnchorNativeOnly => Evidence { rank: 3 },
            Self::AnchorInNoStore => Evidence { rank: 4 },
            Self::LeafKeyEqualsIssuerKey => Evidence { rank: 5 },
            Self::IssuerSignatureMismatch => Evidence { rank: 6 },
            Self::UnexpectedUnknownIssuer => Evidence { rank: 7 },
            Self::SctInvalid => Evidence { rank: 8 },
            Self::TlsProfileMismatch => Evidence { rank: 9 },
            Self::MissingSct => Supports,

            Self::ChainInvalid
            | Self::EmptyChain
            | Self::UnknownIssuer
            | Self::RootRemovedByApple
            | Self::Expired
            | Self::NotYetValid
            | Self::NameMismatch
            | Self::NameOnlyInCn
            | Self::Precertificate
            | Self::PinningFailed
            | Self::CtNotCompliant
            | Self::WeakSignatureAlgorithm
            | Self::WeakKey
            | Self::NoServerAuthEku
            | Self::ValidityTooLong
            | Self::Revoked => Refusal,

            Self::ChainValid
            | Self::TransparentConnectionAllowed
            | Self::HttpAnswered
            | Self::NtpAnswered
            | Self::SshBanner
            | Self::QuicVersionNegotiation => Acceptance,

            Self::ConnectionRefused
            | Self::ConnectionReset
            | Self::ConnectionClosed
            | Self::Unreachable
            | Self::IoError
            | Self::BlockPage => Failure(Verdict::Blocked),
            Self::Timeout => Failure(Verdict::Timeout),
            Self::DnsFailure
            | Self::DnsNxdomain
            | Self::DnsServfail
            | Self::DnsRefused
            | Self::DnsNoAddresses
            | Self::DnsNoAnswer => Failure(Verdict::DnsError),
            Self::TlsAlert | Self::NotTls | Self::TlsProtocolError => Failure(Verdict::TlsError),
            Self::ProxyAuthRequired
            | Self::ProxyRefused
            | Self::ProxyUpstreamError
            | Self::ProxyClosed
            | Self::ProxyUnreachable => Failure(Verdict::ProxyError),
            Self::UnexpectedAnswer | Self::NtpUnsynchronised => Failure(Verdict::ProtocolError),
            // Stopped before an answer: no verdict was reached, as for a target never started.
            Self::NotProbed | Self::Interrupted => Failure(Verdict::Skipped),

            Self::PinningSatisfied
            | Self::MalformedCertificate
            | Self::ProxyNotSupported
            | Self::TransparentProxy
            | Self::ClockSkew
            | Self::NotVerified
            | Self::PinMatch
            | Self::PinRotation
            | Self::TlsProfileChanged
            | Self::RevocationGood
            | Self::RevocationUnknown
            | Self::RevocationUnreachable
            | Self::RevocationInvalid
            | Self::CtCompliant
            | Self::CtNotRequired
            | Self::PublicClientsRefuse
            | Self::UnexpectedIssuer
            | Self::AddressOutsideDocumentedNetwork => Context,
        }
    }

    /// How telling this code is as evidence (0 is most), if it is an evidence code.
    pub fn evidence_rank(self) -> Option<u8> {
        match self.role() {
            Role::Evidence { rank } => Some(rank),
            _ => None,
        }
    }
}

impl Finding {
    /// Evidence of interception: an evidence code, graded as an error (`tls_profile_mismatch` is
    /// a warning on a chain devices accept: the server changed, nothing forged it).
    pub fn is_evidence(&self) -> bool {
        self.severity == Severity::Error && matches!(self.code.role(), Role::Evidence { .. })
    }

    /// A reason devices refuse the chain.
    fn is_refusal(&self) -> bool {
        self.severity == Severity::Error && self.code.role() == Role::Refusal
    }
}

/// Whether the findings hold evidence of interception.
pub(super) fn shows_interception(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_evidence)
}

/// Whether the findings say devices accept the chain (or the service answered in its protocol).
pub(super) fn accepted(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.code.role() == Role::Acceptance)
}

/// The verdict the findings give (the rule at the top of this file).
pub(super) fn verdict(findings: &[Finding]) -> Verdict {
    if shows_interception(findings) {
        return Verdict::Intercepted;
    }
    if let Some(v) = findings.iter().find_map(|f| match f.code.role() {
        Role::Failure(v) => Some(v),
        _ => None,
    }) {
        return v;
    }
    if findings.iter().any(Finding::is_refusal) || !accepted(findings) {
        return Verdict::Untrusted;
    }
    Verdict::Pass
}

/// What the policy decided for one target.
#[derive(Clone, Debug)]
pub(super) struct Decision {
    pub verdict: Verdict,
    /// For intercepted targets: who, and on what evidence.
    pub interception: Option<Interception>,
    /// Intercepted only because the chain, which devices accept, is not the one a baseline
    /// recorded (`pin_mismatch` is the only evidence).
    pub by_baseline_alone: bool,
}

/// Turns a target's findings into its verdict and interception record. `anchor` is the CA the
/// chain ends at, when the stages found one.
pub(super) fn decide(findings: &[Finding], anchor: Option<&str>) -> Decision {
    let verdict = verdict(findings);
    if verdict != Verdict::Intercepted {
        return Decision {
            verdict,
            interception: None,
            by_baseline_alone: false,
        };
    }
    // A missing SCT supports the evidence only on a chain devices refuse; on an accepted one it
    // is the Certificate Transparency reminder.
    let refused = !accepted(findings);
    let evidence: Vec<Code> = findings
        .iter()
        .filter(|f| f.is_evidence() || (refused && f.code.role() == Role::Supports))
        .map(|f| f.code)
        .collect();
    let by_baseline_alone = !refused
        && evidence
            .iter()
            .all(|c| *c == Code::PinMismatch || c.role() == Role::Supports);
    Decision {
        verdict,
        interception: Some(Interception {
            product: findings
                .iter()
                .find_map(Finding::product)
                .map(str::to_owned),
            anchor_subject: anchor.map(str::to_owned),
            evidence,
        }),
        by_baseline_alone,
    }
}

/// What a one-line view shows: for an intercepted target the most telling evidence, otherwise
/// the most severe finding (the first of equals).
pub(super) fn headline(verdict: Verdict, findings: &[Finding]) -> Option<&Finding> {
    if verdict == Verdict::Intercepted
        && let Some(f) = findings
            .iter()
            .filter(|f| f.is_evidence())
            .min_by_key(|f| f.code.evidence_rank())
    {
        return Some(f);
    }
    findings.iter().rev().max_by_key(|f| f.severity)
}
