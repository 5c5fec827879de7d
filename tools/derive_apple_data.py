#!/usr/bin/env python3
"""Derive pinscope's Apple data files from the shared reference material.

Reads (paths relative to the repository root unless --reference is given):
  ../shared/reference/apple-pinning/CertificatePinning.plist
      Apple's certificate pinning database, from apple-oss-distributions/security_certificates
      `Pinning/CertificatePinning.plist`.
  ../shared/reference/apple-pki/*.cer
      CA and leaf certificates from apple-oss-distributions/Security
      `OSX/shared_regressions/si-20-sectrust-policies-data/`.
  /etc/ssl/certs/*.pem
      Only to resolve AnchorSHA256 values that no apple-pki file carries (Debian ca-certificates).

Writes:
  data/apple_pinning.toml   every policy of the pinning database, in order, then code-pinned services
  data/apple_cas.toml       known CA keys (SPKI SHA-256) with the certificates that carry them

Only facts are written (host patterns, OIDs, SHA-256 figures, names); no certificate and no part of
the plist is copied. The output is deterministic: running the script twice gives identical files.

Uses the Python 3.11 standard library and the `openssl` command line only.

    python3 tools/derive_apple_data.py                 # regenerate data/*.toml
    python3 tools/derive_apple_data.py --check         # exit 1 if the files are out of date
"""

from __future__ import annotations

import argparse
import hashlib
import plistlib
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = REPO_ROOT / ".." / "shared" / "reference"
SYSTEM_CERTS = Path("/etc/ssl/certs")

PINNING_REPO = "apple-oss-distributions/security_certificates"
PINNING_PATH = "Pinning/CertificatePinning.plist"
PKI_REPO = "apple-oss-distributions/Security"
PKI_PATH = "OSX/shared_regressions/si-20-sectrust-policies-data"

APPLE_INTERMEDIATE_MARKER = "1.2.840.113635.100.6.2.12"

# Plist rule keys, in the order their TOML keys are written. Any other key stops the script, so a
# new rule key in a future database is noticed and added to the schema on purpose.
RULE_KEYS = {
    "AnchorApple": "anchor_apple",
    "AnchorSHA256": "anchor_sha256",
    "ChainLength": "chain_length",
    "CheckIntermediateMarkerOid": "intermediate_marker_oid",
    "CheckIntermediateOrganization": "intermediate_organization",
    "CheckIntermediateCountry": "intermediate_country",
    "CheckLeafMarkerOid": "leaf_marker_oids",
    "CheckLeafMarkersProdAndQA": ("leaf_markers_prod", "leaf_markers_qa"),
    "SubjectOrganization": "subject_organization",
    "CertificatePolicy": "certificate_policy",
    "Revocation": "revocation",
}
RULE_TOML_ORDER = [
    "anchor_apple",
    "anchor_sha256",
    "chain_length",
    "intermediate_marker_oid",
    "intermediate_organization",
    "intermediate_country",
    "leaf_marker_oids",
    "leaf_markers_prod",
    "leaf_markers_qa",
    "subject_organization",
    "certificate_policy",
    "revocation",
]
POLICY_KEYS = {"policyName", "domains", "rules", "transparentConnection"}
# `comment` holds Apple's internal bug numbers (rdar://…); it is not part of the schema.
DOMAIN_KEYS = {"suffix", "labelRegex", "comment"}

# Services Apple pins in code rather than through the pinning database. Each entry is written after
# the database policies, with `source` naming where the fact comes from.
CODE_PINNED = [
    {
        "name": "APN",
        "source": (
            "SecPolicyPriv.h: apsd evaluates every courier connection with the APN policy "
            "(pinned in code, not through the pinning database)"
        ),
        "transparent_connection": False,
        # The numbered couriers (1-courier … N-courier); plain `courier` is already in the
        # database's APN policy.
        "domains": [{"suffix": "push.apple.com", "label_regex": "^[0-9]+-courier$"}],
        "rules": [
            {
                "anchor_apple": True,
                "chain_length": 3,
                "intermediate_marker_oid": APPLE_INTERMEDIATE_MARKER,
                "leaf_markers_prod": ["1.2.840.113635.100.6.27.5.2"],
                "leaf_markers_qa": ["1.2.840.113635.100.6.27.5.1"],
            }
        ],
    },
]

# apple-pki files that are not written: Apple's own forgery test (a self-signed "Apple Root CA" on
# another key — the exact trap of judging by names).
EXCLUDED_PKI_FILES = {"FakeAppleRootCA.cer"}

# The Apple roots that satisfy AnchorApple (Apple Root CA, - G2, - G3), by certificate SHA-256.
APPLE_ROOT_CERTS = {
    "b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024": "Apple Root CA",
    "c2b9b042dd57830e7d117dac55ac8ae19407d38e41d88f3215bc3a890444a050": "Apple Root CA - G2",
    "63343abfb89a6a03ebb57e9b3f5fa7be7c4f5c756f3017b3a8c488c3653e9179": "Apple Root CA - G3",
}

# Public roots in apple-pki/ that no AnchorSHA256 list names. All three appear as trusted roots in
# Apple's published trust-store lists; Baltimore (2025-05-12) and GeoTrust Global CA (2022-05-21)
# have since expired, which the validity check handles — this flag only says "an Apple anchor".
# Roots named in AnchorSHA256 and the Apple roots are trusted_by_apple without a table entry.
OTHER_TRUSTED_ROOTS = {
    "6dc47172e01cbcb0bf62580d895fe2b8ac9ad4f873801e0c10b9c837d21eb177",  # Entrust.net CA (2048)
    "16af57a9f676b0ab126095aa5ebadef22ab31119d644ac95cd4b93dbf3f26aeb",  # Baltimore CyberTrust Root
    "ff856a2d251dcd88d36656f450126798cfabaade40799c722de4d2b5db36a73a",  # GeoTrust Global CA
}

OID_CN = "2.5.4.3"
OID_O = "2.5.4.10"
OID_BASIC_CONSTRAINTS = "2.5.29.19"


# --------------------------------------------------------------------------------------------
# Minimal DER reading (names, extensions, basic constraints)
# --------------------------------------------------------------------------------------------


def der_tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, content_start, content_end) of the TLV at pos."""
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    return tag, pos, pos + length


def der_children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """Children of a constructed value: (tag, header_start, content_start, content_end)."""
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = der_tlv(buf, pos)
        out.append((tag, pos, cstart, cend))
        pos = cend
    return out


def der_oid(content: bytes) -> str:
    first = content[0]
    parts = [str(min(first // 40, 2)), str(first - 40 * min(first // 40, 2))]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(str(value))
            value = 0
    return ".".join(parts)


def der_string(tag: int, content: bytes) -> str:
    if tag == 0x1E:  # BMPString
        return content.decode("utf-16-be")
    if tag == 0x1C:  # UniversalString
        return content.decode("utf-32-be")
    if tag == 0x14:  # T61String: treat as Latin-1
        return content.decode("latin-1")
    return content.decode("utf-8")


def der_name(buf: bytes, start: int, end: int) -> list[tuple[str, str]]:
    attrs = []
    for _, _, rs, re_ in der_children(buf, start, end):  # SET
        for _, _, as_, ae in der_children(buf, rs, re_):  # SEQUENCE { type, value }
            (ot, _, os_, oe), (vt, _, vs, ve) = der_children(buf, as_, ae)[:2]
            assert ot == 0x06
            attrs.append((der_oid(buf[os_:oe]), der_string(vt, buf[vs:ve])))
    return attrs


@dataclass
class Cert:
    label: str  # where it was read from, as written to `source`
    der: bytes
    sha256: str
    spki_sha256: str
    subject: list[tuple[str, str]]
    issuer: list[tuple[str, str]]
    self_issued: bool
    is_ca: bool
    extensions: list[str]

    def attr(self, which: str, oid: str) -> str:
        name = self.subject if which == "subject" else self.issuer
        return next((v for o, v in name if o == oid), "")

    @property
    def cn(self) -> str:
        return self.attr("subject", OID_CN) or self.attr("subject", OID_O)

    @property
    def issuer_cn(self) -> str:
        return self.attr("issuer", OID_CN) or self.attr("issuer", OID_O)

    @property
    def organization(self) -> str:
        return self.attr("subject", OID_O)


def openssl(args: list[str], data: bytes | None = None) -> bytes:
    proc = subprocess.run(["openssl", *args], input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def spki_sha256_openssl(der: bytes) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, computed the documented way with openssl."""
    pem_key = openssl(["x509", "-inform", "DER", "-pubkey", "-noout"], der)
    spki_der = openssl(["pkey", "-pubin", "-outform", "DER"], pem_key)
    return hashlib.sha256(spki_der).hexdigest()


def parse_cert(der: bytes, label: str) -> Cert:
    _, cs, ce = der_tlv(der, 0)
    tbs_tag, _, ts, te = der_children(der, cs, ce)[0]
    assert tbs_tag == 0x30
    fields = der_children(der, ts, te)
    i = 1 if fields[0][0] == 0xA0 else 0  # optional [0] version
    issuer_f, subject_f, spki_f = fields[i + 2], fields[i + 4], fields[i + 5]
    issuer = der_name(der, issuer_f[2], issuer_f[3])
    subject = der_name(der, subject_f[2], subject_f[3])
    raw_spki = der[spki_f[1] : spki_f[3]]

    extensions: list[str] = []
    is_ca = False
    for tag, _, s, e in fields[i + 6 :]:
        if tag != 0xA3:
            continue
        (_, _, ls, le), = der_children(der, s, e)
        for _, _, xs, xe in der_children(der, ls, le):
            parts = der_children(der, xs, xe)
            oid = der_oid(der[parts[0][2] : parts[0][3]])
            extensions.append(oid)
            if oid == OID_BASIC_CONSTRAINTS:
                _, _, vs, ve = parts[-1]  # OCTET STRING holding BasicConstraints
                _, bs, be = der_tlv(der, vs)
                inner = der_children(der, bs, be)
                is_ca = bool(inner) and inner[0][0] == 0x01 and der[inner[0][2]] != 0

    spki = spki_sha256_openssl(der)
    if spki != hashlib.sha256(raw_spki).hexdigest():
        print(f"warning: {label}: openssl re-encodes the SPKI; using openssl's figure", file=sys.stderr)
    return Cert(
        label=label,
        der=der,
        sha256=hashlib.sha256(der).hexdigest(),
        spki_sha256=spki,
        subject=subject,
        issuer=issuer,
        self_issued=der[issuer_f[1] : issuer_f[3]] == der[subject_f[1] : subject_f[3]],
        is_ca=is_ca,
        extensions=extensions,
    )


# --------------------------------------------------------------------------------------------
# TOML writing
# --------------------------------------------------------------------------------------------


def toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def toml_array(key: str, items: list, indent: str = "") -> list[str]:
    """A key = [...] line, wrapped one item per line when long."""
    line = f"{indent}{key} = {toml_value(items)}"
    if len(line) <= 100 or len(items) < 2:
        return [line]
    return [f"{indent}{key} = ["] + [f"{indent}  {toml_value(x)}," for x in items] + [f"{indent}]"]


# --------------------------------------------------------------------------------------------
# Pinning database
# --------------------------------------------------------------------------------------------


def marker(m) -> str:
    """A plist marker: a plain OID, or a one-entry dict {EXT: VALUE} written as "EXT=VALUE"."""
    if isinstance(m, str):
        return m
    if isinstance(m, dict) and len(m) == 1:
        ((k, v),) = m.items()
        if isinstance(k, str) and isinstance(v, str):
            return f"{k}={v}"
    raise ValueError(f"unexpected marker {m!r}")


def markers(value) -> list[str]:
    if isinstance(value, (str, dict)):
        value = [value]
    return [marker(m) for m in value]


def convert_rule(rule: dict, where: str) -> dict:
    unknown = sorted(set(rule) - set(RULE_KEYS))
    if unknown:
        raise SystemExit(f"{where}: rule keys not in the schema: {unknown}; extend RULE_KEYS and the loader")
    out: dict = {}
    for key, value in rule.items():
        if key == "AnchorApple":
            out["anchor_apple"] = True
        elif key == "AnchorSHA256":
            out["anchor_sha256"] = [bytes(v).hex() for v in value]
        elif key == "ChainLength":
            out["chain_length"] = int(value)
        elif key == "CheckLeafMarkerOid":
            out["leaf_marker_oids"] = markers(value)
        elif key == "CheckLeafMarkersProdAndQA":
            extra = sorted(set(value) - {"ProdMarker", "QAMarker"})
            if extra:
                raise SystemExit(f"{where}: CheckLeafMarkersProdAndQA has unknown keys {extra}")
            if "ProdMarker" in value:
                out["leaf_markers_prod"] = markers(value["ProdMarker"])
            if "QAMarker" in value:
                out["leaf_markers_qa"] = markers(value["QAMarker"])
        else:
            if not isinstance(value, str):
                raise SystemExit(f"{where}: {key} is not a string: {value!r}")
            out[RULE_KEYS[key]] = value
    return {k: out[k] for k in RULE_TOML_ORDER if k in out}


def load_pinning(plist_path: Path) -> tuple[int, list[dict]]:
    with plist_path.open("rb") as f:
        db = plistlib.load(f)
    content_version = int(db[0])
    policies = []
    for index, entry in enumerate(db[1:], start=1):
        where = f"{plist_path.name}[{index}]"
        unknown = sorted(set(entry) - POLICY_KEYS)
        if unknown:
            raise SystemExit(f"{where}: policy keys not in the schema: {unknown}")
        domains = []
        for d in entry["domains"]:
            extra = sorted(set(d) - DOMAIN_KEYS)
            if extra:
                raise SystemExit(f"{where}: domain keys not in the schema: {extra}")
            domains.append({"suffix": d["suffix"], "label_regex": d["labelRegex"]})
        name = entry["policyName"]
        policies.append(
            {
                "name": name,
                "source": plist_path.name,
                "transparent_connection": bool(entry.get("transparentConnection", False)),
                "domains": domains,
                "rules": [convert_rule(r, f"{where} ({name}) rule {i}") for i, r in enumerate(entry["rules"])],
            }
        )
    return content_version, policies


def render_pinning(content_version: int, plist_sha256: str, policies: list[dict], n_db: int) -> str:
    lines = [
        "# GENERATED by tools/derive_apple_data.py: do not edit by hand; regenerate with",
        "#   python3 tools/derive_apple_data.py",
        "#",
        f"# Source: Apple's certificate pinning database, {PINNING_REPO}",
        f"#   `{PINNING_PATH}` (content version {content_version}; read from",
        "#   ../shared/reference/apple-pinning/, file SHA-256",
        f"#   {plist_sha256}).",
        f"# The first {n_db} policies are the database's, in its order. The rest are services Apple pins in",
        "# code; each one's `source` names where that fact comes from. The certificates that Apple's",
        "# rules name by hash are described in data/apple_cas.toml (from",
        f"# {PKI_REPO} `{PKI_PATH}`",
        "# and the system CA store).",
        "# This file carries facts derived from those sources (host patterns, OIDs, SHA-256 figures),",
        "# not the files themselves.",
        "#",
        "# Lookup (Apple's SecPinningDb): split the host at its first dot into firstLabel and suffix; a",
        "# domain matches when `suffix` equals the host's suffix (case-insensitive) and `label_regex`",
        "# (NSRegularExpression syntax) finds a match anywhere in firstLabel (case-insensitive). A",
        "# policy's rules are alternatives: any one passing is enough. A marker \"EXT=VALUE\" means the",
        "# certificate has extension EXT whose value is VALUE; a plain OID means the extension is present.",
        "",
        "version = 1",
        f"content_version = {content_version}",
    ]
    for p in policies:
        lines += ["", "[[policy]]"]
        lines.append(f"name = {toml_str(p['name'])}")
        lines.append(f"source = {toml_str(p['source'])}")
        lines.append(f"transparent_connection = {toml_value(p['transparent_connection'])}")
        lines.append("domains = [")
        for d in p["domains"]:
            lines.append(f"  {{ suffix = {toml_str(d['suffix'])}, label_regex = {toml_str(d['label_regex'])} }},")
        lines.append("]")
        for r in p["rules"]:
            lines += ["", "[[policy.rule]]"]
            for k in RULE_TOML_ORDER:
                if k not in r:
                    continue
                if isinstance(r[k], list):
                    lines += toml_array(k, r[k])
                else:
                    lines.append(f"{k} = {toml_value(r[k])}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# CA keys
# --------------------------------------------------------------------------------------------


@dataclass
class CaEntry:
    spki_sha256: str
    certs: list[Cert] = field(default_factory=list)
    anchor: bool = False  # named by an AnchorSHA256 list


def system_cert_index() -> dict[str, Path]:
    """Certificate SHA-256 → file in /etc/ssl/certs (first by name; symlinks resolved once)."""
    index: dict[str, Path] = {}
    if not SYSTEM_CERTS.is_dir():
        return index
    seen: set[Path] = set()
    for path in sorted(SYSTEM_CERTS.glob("*.pem")):
        real = path.resolve()
        if real in seen:
            continue
        seen.add(real)
        try:
            der = openssl(["x509", "-in", str(path), "-outform", "DER"])
        except RuntimeError:
            continue
        index.setdefault(hashlib.sha256(der).hexdigest(), path)
    return index


def collect_cas(pki_dir: Path, anchors: list[str]) -> tuple[list[CaEntry], list[str], dict[str, str]]:
    """Return CA entries, unresolved anchor hashes, and anchor → where it was found."""
    by_cert: dict[str, Cert] = {}
    entries: dict[str, CaEntry] = {}
    for path in sorted(pki_dir.glob("*.cer")):
        cert = parse_cert(path.read_bytes(), f"apple-pki/{path.name}")
        by_cert[cert.sha256] = cert
        if path.name in EXCLUDED_PKI_FILES or not cert.is_ca:
            continue
        entries.setdefault(cert.spki_sha256, CaEntry(cert.spki_sha256)).certs.append(cert)

    resolution: dict[str, str] = {}
    unresolved: list[str] = []
    system_index: dict[str, Path] | None = None
    for h in anchors:
        cert = by_cert.get(h)
        if cert is None:
            if system_index is None:
                system_index = system_cert_index()
            path = system_index.get(h)
            if path is None:
                unresolved.append(h)
                continue
            der = openssl(["x509", "-in", str(path), "-outform", "DER"])
            cert = parse_cert(der, f"system ca-certificates: {path.name}")
        entry = entries.setdefault(cert.spki_sha256, CaEntry(cert.spki_sha256))
        if all(c.sha256 != cert.sha256 for c in entry.certs):
            entry.certs.append(cert)
        entry.anchor = True
        resolution[h] = f"{cert.cn} ({cert.label})"
    return list(entries.values()), unresolved, resolution


def ca_record(e: CaEntry) -> dict:
    certs = e.certs
    first = certs[0]
    apple_root = any(c.sha256 in APPLE_ROOT_CERTS for c in certs)
    operator = "apple" if any(c.organization == "Apple Inc." for c in certs) else "public"
    kind = "root" if (e.anchor or any(c.self_issued for c in certs)) else "intermediate"
    rec = {
        "name": first.cn,
        "kind": kind,
        "operator": operator,
        "spki_sha256": e.spki_sha256,
        "cert_sha256": [c.sha256 for c in certs],
        "apple_root": apple_root,
        "trusted_by_apple": kind == "root"
        and (apple_root or e.anchor or any(c.sha256 in OTHER_TRUSTED_ROOTS for c in certs)),
    }
    if kind == "intermediate":
        issuers: list[str] = []
        for c in certs:
            if c.issuer_cn not in issuers:
                issuers.append(c.issuer_cn)
        rec["issuers"] = issuers
    rec["intermediate_marker"] = any(APPLE_INTERMEDIATE_MARKER in c.extensions for c in certs)
    rec["source"] = ", ".join(c.label for c in certs)
    return rec


def ca_sort_key(rec: dict) -> tuple:
    return (
        0 if rec["operator"] == "apple" else 1,
        0 if rec["kind"] == "root" else 1,
        rec["name"].lower(),
        rec.get("spki_sha256", ""),
    )


def render_cas(records: list[dict], unresolved: list[str], plist_sha256: str) -> str:
    lines = [
        "# GENERATED by tools/derive_apple_data.py: do not edit by hand; regenerate with",
        "#   python3 tools/derive_apple_data.py",
        "#",
        "# Known CA keys, identified by SPKI SHA-256 (SHA-256 of the DER SubjectPublicKeyInfo), one entry",
        "# per distinct key. Sources:",
        f"#   - {PKI_REPO}",
        f"#     `{PKI_PATH}/` (Apple's trust-evaluation regression",
        "#     data; read from ../shared/reference/apple-pki/): every CA certificate there",
        "#     except FakeAppleRootCA.cer, Apple's own forgery test (a self-signed \"Apple Root CA\" on",
        "#     another key).",
        f"#   - {PINNING_REPO} `{PINNING_PATH}`",
        f"#     (file SHA-256 {plist_sha256}):",
        "#     every AnchorSHA256 value, resolved to a certificate in apple-pki/ or else in the system",
        "#     CA store (Debian ca-certificates, /etc/ssl/certs), named in `source`.",
        "# This file carries facts derived from those certificates (names, SHA-256 figures, extension",
        "# presence), not the certificates themselves.",
        "# apple_root marks Apple Root CA, - G2 and - G3 (what AnchorApple accepts); trusted_by_apple marks",
        "# roots that are anchors of Apple's system trust store; intermediate_marker is the Apple",
        f"# intermediate marker extension {APPLE_INTERMEDIATE_MARKER}.",
        "",
        "version = 1",
    ]
    for rec in records:
        lines += ["", "[[ca]]"]
        for k, v in rec.items():
            if isinstance(v, list):
                lines += toml_array(k, v)
            else:
                lines.append(f"{k} = {toml_value(v)}")
    for h in unresolved:
        lines += [
            "",
            "[[ca]]",
            'name = "unresolved"',
            'kind = "root"',
            'operator = "public"',
            f"cert_sha256 = [{toml_str(h)}]",
            "apple_root = false",
            "trusted_by_apple = true",
            "intermediate_marker = false",
            f'source = {toml_str("CertificatePinning.plist AnchorSHA256 (no certificate found)")}',
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="shared reference directory")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "data", help="output directory (default: data/)")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if the files differ")
    args = ap.parse_args()

    plist_path = args.reference / "apple-pinning" / "CertificatePinning.plist"
    pki_dir = args.reference / "apple-pki"
    if not plist_path.is_file() or not pki_dir.is_dir():
        print(f"error: {args.reference} lacks apple-pinning/CertificatePinning.plist or apple-pki/", file=sys.stderr)
        return 2

    plist_sha256 = hashlib.sha256(plist_path.read_bytes()).hexdigest()
    content_version, db_policies = load_pinning(plist_path)
    policies = db_policies + [
        {k: p[k] for k in ("name", "source", "transparent_connection", "domains", "rules")} for p in CODE_PINNED
    ]

    anchors: list[str] = []
    for p in db_policies:
        for r in p["rules"]:
            for h in r.get("anchor_sha256", []):
                if h not in anchors:
                    anchors.append(h)
    entries, unresolved, resolution = collect_cas(pki_dir, anchors)
    records = sorted((ca_record(e) for e in entries), key=ca_sort_key)

    outputs = {
        "apple_pinning.toml": render_pinning(content_version, plist_sha256, policies, len(db_policies)),
        "apple_cas.toml": render_cas(records, unresolved, plist_sha256),
    }
    for name, text in outputs.items():
        tomllib.loads(text)  # never write something the loader cannot parse

    stale = []
    for name, text in outputs.items():
        target = args.out / name
        if args.check:
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    n_rules = sum(len(p["rules"]) for p in policies)
    print(
        f"policies: {len(policies)} ({len(db_policies)} database, {len(CODE_PINNED)} code-pinned), "
        f"rule sets: {n_rules}, CA keys: {len(records)}, unresolved anchors: {len(unresolved)}"
    )
    for h in anchors:
        print(f"  AnchorSHA256 {h[:16]}… → {resolution.get(h, 'UNRESOLVED')}")
    if unresolved:
        print(
            f"warning: {len(unresolved)} AnchorSHA256 value(s) matched no certificate; written as "
            '"unresolved" entries (is the ca-certificates package installed?)',
            file=sys.stderr,
        )
    if stale:
        print(f"out of date: {', '.join(stale)} (run python3 tools/derive_apple_data.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
