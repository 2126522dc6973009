"""Alexa request verification against a test PKI built here with `cryptography`.

The CA, intermediate and echo-api.amazon.com leaf are real certificates signed by real keys;
the chain is served by an in-process fetcher so no network is touched.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from controller.clock import VirtualClock
from voice.alexa.verification import (
    AlexaRequestVerifier,
    AlexaVerificationError,
    CertificateChainCache,
    CertificateChainError,
    CertificateFetchError,
    CertificateNameError,
    CertificateNotValidNowError,
    CertificateUrlError,
    RequestBodyError,
    SignatureEncodingError,
    SignatureMismatchError,
    SignatureMissingError,
    TimestampInFutureError,
    TimestampTooOldError,
    UntrustedCertificateError,
    check_request_timestamp,
    parse_certificate_chain,
    validate_cert_chain_url,
    validate_certificate_chain,
    verify_body_signature,
)

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
URL = "https://s3.amazonaws.com/echo.api/echo-api-cert-12.pem"
DAY = timedelta(days=1)


# --------------------------------------------------------------------------- test PKI


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _make_cert(
    *,
    subject: str,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    ca: bool,
    san: list[str] | None = None,
    not_before: datetime = NOW - 30 * DAY,
    not_after: datetime = NOW + 300 * DAY,
    basic_constraints: bool = True,
    key_cert_sign: bool | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer is not None else _name(subject))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if basic_constraints:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=None), critical=True
        )
    if key_cert_sign is not None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=key_cert_sign,
                crl_sign=key_cert_sign,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in san]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Pki:
    root_key: rsa.RSAPrivateKey
    root: x509.Certificate
    inter_key: rsa.RSAPrivateKey
    inter: x509.Certificate
    leaf_key: rsa.RSAPrivateKey
    leaf: x509.Certificate
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)

    def leaf_with(self, **kwargs: Any) -> x509.Certificate:
        args: dict[str, Any] = {
            "subject": "echo-api.amazon.com",
            "public_key": self.leaf_key.public_key(),
            "issuer": self.inter,
            "issuer_key": self.inter_key,
            "ca": False,
            "san": ["echo-api.amazon.com"],
        }
        args.update(kwargs)
        return _make_cert(**args)


@pytest.fixture(scope="module")
def pki() -> Pki:
    root_key, inter_key, leaf_key = _rsa(), _rsa(), _rsa()
    root = _make_cert(
        subject="MQ200 Test Root CA",
        public_key=root_key.public_key(),
        issuer=None,
        issuer_key=root_key,
        ca=True,
        not_after=NOW + 3000 * DAY,
    )
    inter = _make_cert(
        subject="MQ200 Test Intermediate",
        public_key=inter_key.public_key(),
        issuer=root,
        issuer_key=root_key,
        ca=True,
        not_after=NOW + 1000 * DAY,
    )
    leaf = _make_cert(
        subject="echo-api.amazon.com",
        public_key=leaf_key.public_key(),
        issuer=inter,
        issuer_key=inter_key,
        ca=False,
        san=["echo-api.amazon.com"],
    )
    return Pki(root_key, root, inter_key, inter, leaf_key, leaf, {"other": _rsa()})


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _body(timestamp: datetime | str | int = NOW, **extra: Any) -> bytes:
    stamp = (
        timestamp.isoformat().replace("+00:00", "Z")
        if isinstance(timestamp, datetime)
        else timestamp
    )
    envelope = {
        "version": "1.0",
        "session": {"new": True, "sessionId": "amzn1.echo-api.session.test"},
        "request": {
            "type": "LaunchRequest",
            "requestId": "amzn1.echo-api.request.test",
            "timestamp": stamp,
            "locale": "en-US",
            **extra,
        },
    }
    return json.dumps(envelope).encode()


def _sign(
    key: rsa.RSAPrivateKey, body: bytes, algorithm: hashes.HashAlgorithm | None = None
) -> str:
    signature = key.sign(body, padding.PKCS1v15(), algorithm or hashes.SHA256())
    return base64.b64encode(signature).decode()


class LocalFetcher:
    """Serves chains from a dict and counts downloads; unknown URLs fail like a 404."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if url not in self.files:
            raise FileNotFoundError(f"404 for {url}")
        return self.files[url]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=NOW.timestamp())


@pytest.fixture
def fetcher(pki: Pki) -> LocalFetcher:
    return LocalFetcher({URL: _pem(pki.leaf, pki.inter)})


def _verifier(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher, **kwargs: Any
) -> AlexaRequestVerifier:
    return AlexaRequestVerifier(clock=clock, fetcher=fetcher, trust_anchors=[pki.root], **kwargs)


def _headers(pki: Pki, body: bytes, url: str = URL) -> dict[str, str]:
    return {"SignatureCertChainUrl": url, "Signature-256": _sign(pki.leaf_key, body)}


# --------------------------------------------------------------------------- good path


async def test_good_request_passes(pki: Pki, clock: VirtualClock, fetcher: LocalFetcher) -> None:
    body = _body()
    result = await _verifier(pki, clock, fetcher).verify(_headers(pki, body), body)
    assert result.timestamp == NOW
    assert result.certificate_url == URL
    assert result.signature_algorithm == "SHA-256"
    assert result.envelope["request"]["type"] == "LaunchRequest"
    assert fetcher.calls == [URL]


async def test_header_names_are_case_insensitive(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = {
        "signaturecertchainurl": URL,
        "SIGNATURE-256": _sign(pki.leaf_key, body),
    }
    await _verifier(pki, clock, fetcher).verify(headers, body)


async def test_chain_including_root_passes(pki: Pki, clock: VirtualClock) -> None:
    fetcher = LocalFetcher({URL: _pem(pki.leaf, pki.inter, pki.root)})
    body = _body()
    await _verifier(pki, clock, fetcher).verify(_headers(pki, body), body)


async def test_intermediate_as_anchor_passes(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    verifier = AlexaRequestVerifier(clock=clock, fetcher=fetcher, trust_anchors=[pki.inter])
    await verifier.verify(_headers(pki, body), body)


# --------------------------------------------------------------------------- URL rules


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (URL, URL),
        (
            "HTTPS://s3.amazonaws.com/echo.api/echo-api-cert.pem",
            "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        ),
        (
            "https://S3.AmAzOnAwS.CoM/echo.api/echo-api-cert.pem",
            "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        ),
        (
            "https://s3.amazonaws.com:443/echo.api/echo-api-cert.pem",
            "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        ),
        (
            "https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem",
            "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        ),
        (
            "https://s3.amazonaws.com/echo.api/./sub/../echo-api-cert.pem",
            "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        ),
    ],
)
def test_cert_url_accepted(url: str, canonical: str) -> None:
    assert validate_cert_chain_url(url) == canonical


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://s3.amazonaws.com/echo.api/echo-api-cert.pem", "scheme"),
        ("ftp://s3.amazonaws.com/echo.api/echo-api-cert.pem", "scheme"),
        ("https://notamazon.com/echo.api/echo-api-cert.pem", "host"),
        ("https://s3.amazonaws.com.evil.example/echo.api/echo-api-cert.pem", "host"),
        ("https://evil.s3.amazonaws.com/echo.api/echo-api-cert.pem", "host"),
        ("https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem", "port"),
        ("https://s3.amazonaws.com:8443/echo.api/echo-api-cert.pem", "port"),
        ("https://s3.amazonaws.com:notaport/echo.api/echo-api-cert.pem", "not a valid URL"),
        ("https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem", "path"),
        ("https://s3.amazonaws.com/invalid.path/echo-api-cert.pem", "path"),
        ("https://s3.amazonaws.com/echo.api/../invalid.path/echo-api-cert.pem", "path"),
        ("https://s3.amazonaws.com/echo.api/%2e%2e/evil/cert.pem", "path"),
        ("https://s3.amazonaws.com/echo.api/%2E%2E%2Fevil/cert.pem", "path"),
        ("https://s3.amazonaws.com/echo.api/..%5cevil/cert.pem", "not allowed"),
        ("https://s3.amazonaws.com/echo.api/%252e%252e/evil.pem", "not allowed"),
        ("https://s3.amazonaws.com//echo.api/cert.pem", "path"),
        ("https://s3.amazonaws.com/echo.api", "path"),
        ("https://s3.amazonaws.com/echo.api/", "path"),
        ("https://s3.amazonaws.com/echo.api.evil/cert.pem", "path"),
        ("https://user:pw@s3.amazonaws.com/echo.api/cert.pem", "user"),
        ("https://s3.amazonaws.com/echo.api/cert.pem?x=1", "query"),
        ("https://s3.amazonaws.com/echo.api/cert.pem#frag", "query"),
        ("", "missing"),
        (None, "missing"),
    ],
)
def test_cert_url_rejected(url: str | None, fragment: str) -> None:
    with pytest.raises(CertificateUrlError, match=fragment):
        validate_cert_chain_url(url)


async def test_bad_url_rejected_before_any_download(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = _headers(pki, body, url="https://s3.amazonaws.com/other/cert.pem")
    with pytest.raises(CertificateUrlError):
        await _verifier(pki, clock, fetcher).verify(headers, body)
    assert fetcher.calls == []


async def test_missing_url_header(pki: Pki, clock: VirtualClock, fetcher: LocalFetcher) -> None:
    body = _body()
    with pytest.raises(CertificateUrlError, match="missing"):
        await _verifier(pki, clock, fetcher).verify(
            {"Signature-256": _sign(pki.leaf_key, body)}, body
        )


async def test_dotdot_url_fetches_the_normalised_url(pki: Pki, clock: VirtualClock) -> None:
    fetcher = LocalFetcher({URL: _pem(pki.leaf, pki.inter)})
    body = _body()
    tricky = "https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert-12.pem"
    await _verifier(pki, clock, fetcher).verify(_headers(pki, body, url=tricky), body)
    assert fetcher.calls == [URL]


# --------------------------------------------------------------------------- chain rules


def test_expired_leaf(pki: Pki) -> None:
    leaf = pki.leaf_with(not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    with pytest.raises(CertificateNotValidNowError, match="signing certificate expired"):
        validate_certificate_chain([leaf, pki.inter], [pki.root], NOW)


def test_not_yet_valid_leaf(pki: Pki) -> None:
    leaf = pki.leaf_with(not_before=NOW + DAY, not_after=NOW + 100 * DAY)
    with pytest.raises(CertificateNotValidNowError, match="not valid until"):
        validate_certificate_chain([leaf, pki.inter], [pki.root], NOW)


def test_leaf_valid_at_exact_boundaries(pki: Pki) -> None:
    leaf = pki.leaf_with(not_before=NOW, not_after=NOW + DAY)
    validate_certificate_chain([leaf, pki.inter], [pki.root], NOW)
    leaf = pki.leaf_with(not_before=NOW - DAY, not_after=NOW)
    validate_certificate_chain([leaf, pki.inter], [pki.root], NOW)
    with pytest.raises(CertificateNotValidNowError):
        validate_certificate_chain([leaf, pki.inter], [pki.root], NOW + timedelta(seconds=1))


def test_expired_intermediate(pki: Pki) -> None:
    inter = _make_cert(
        subject="MQ200 Test Intermediate",
        public_key=pki.inter_key.public_key(),
        issuer=pki.root,
        issuer_key=pki.root_key,
        ca=True,
        not_before=NOW - 400 * DAY,
        not_after=NOW - DAY,
    )
    with pytest.raises(CertificateNotValidNowError, match="chain certificate #1 expired"):
        validate_certificate_chain([pki.leaf, inter], [pki.root], NOW)


def test_expired_anchor(pki: Pki) -> None:
    old_root = _make_cert(
        subject="MQ200 Test Root CA",
        public_key=pki.root_key.public_key(),
        issuer=None,
        issuer_key=pki.root_key,
        ca=True,
        not_before=NOW - 4000 * DAY,
        not_after=NOW - DAY,
    )
    with pytest.raises(CertificateNotValidNowError, match="trust anchor"):
        validate_certificate_chain([pki.leaf, pki.inter], [old_root], NOW)


@pytest.mark.parametrize(
    "san", [["echo-api.amazon.com.evil.example"], ["evil.example"], ["*.amazon.com"], []]
)
def test_wrong_san(pki: Pki, san: list[str]) -> None:
    leaf = pki.leaf_with(san=san)
    with pytest.raises(CertificateNameError, match="echo-api.amazon.com"):
        validate_certificate_chain([leaf, pki.inter], [pki.root], NOW)


def test_missing_san_even_with_right_common_name(pki: Pki) -> None:
    leaf = pki.leaf_with(san=None)
    with pytest.raises(CertificateNameError, match="no subjectAltName"):
        validate_certificate_chain([leaf, pki.inter], [pki.root], NOW)


def test_san_among_several_names_and_case(pki: Pki) -> None:
    leaf = pki.leaf_with(san=["other.example", "ECHO-API.AMAZON.COM"])
    assert validate_certificate_chain([leaf, pki.inter], [pki.root], NOW) == leaf


def test_untrusted_root_with_the_same_name(pki: Pki) -> None:
    evil_key = pki.keys["other"]
    evil_root = _make_cert(
        subject="MQ200 Test Root CA",  # same name as the real root, different key
        public_key=evil_key.public_key(),
        issuer=None,
        issuer_key=evil_key,
        ca=True,
    )
    evil_inter = _make_cert(
        subject="MQ200 Test Intermediate",
        public_key=pki.inter_key.public_key(),
        issuer=evil_root,
        issuer_key=evil_key,
        ca=True,
    )
    leaf = pki.leaf_with(issuer=evil_inter)
    with pytest.raises(UntrustedCertificateError):
        validate_certificate_chain([leaf, evil_inter, evil_root], [pki.root], NOW)
    with pytest.raises(UntrustedCertificateError):
        validate_certificate_chain([leaf, evil_inter], [pki.root], NOW)


def test_self_signed_leaf_is_untrusted(pki: Pki) -> None:
    leaf = pki.leaf_with(issuer=None, issuer_key=pki.leaf_key)
    with pytest.raises(UntrustedCertificateError):
        validate_certificate_chain([leaf], [pki.root], NOW)


def test_missing_intermediate_is_untrusted(pki: Pki) -> None:
    with pytest.raises(UntrustedCertificateError):
        validate_certificate_chain([pki.leaf], [pki.root], NOW)


def test_chain_out_of_order(pki: Pki) -> None:
    with pytest.raises(CertificateChainError):
        validate_certificate_chain([pki.leaf, pki.root, pki.inter], [pki.root], NOW)


def test_issuer_that_is_not_a_ca(pki: Pki) -> None:
    fake_inter = _make_cert(
        subject="MQ200 Test Intermediate",
        public_key=pki.inter_key.public_key(),
        issuer=pki.root,
        issuer_key=pki.root_key,
        ca=False,
    )
    with pytest.raises(CertificateChainError, match="not a CA"):
        validate_certificate_chain([pki.leaf, fake_inter], [pki.root], NOW)


@pytest.mark.parametrize(
    ("basic_constraints", "key_cert_sign", "fragment"),
    [(False, None, "not marked as a CA"), (True, False, "not allowed to sign"), (True, True, "")],
)
def test_intermediate_extensions(
    pki: Pki, basic_constraints: bool, key_cert_sign: bool | None, fragment: str
) -> None:
    inter = _make_cert(
        subject="MQ200 Test Intermediate",
        public_key=pki.inter_key.public_key(),
        issuer=pki.root,
        issuer_key=pki.root_key,
        ca=True,
        basic_constraints=basic_constraints,
        key_cert_sign=key_cert_sign,
    )
    if not fragment:
        validate_certificate_chain([pki.leaf, inter], [pki.root], NOW)
        return
    with pytest.raises(CertificateChainError, match=fragment):
        validate_certificate_chain([pki.leaf, inter], [pki.root], NOW)


def test_intermediate_signature_forged(pki: Pki) -> None:
    # Right issuer name, but signed by a key that is not the root's.
    forged_inter = _make_cert(
        subject="MQ200 Test Intermediate",
        public_key=pki.inter_key.public_key(),
        issuer=pki.root,
        issuer_key=pki.keys["other"],
        ca=True,
    )
    with pytest.raises(UntrustedCertificateError):
        validate_certificate_chain([pki.leaf, forged_inter], [pki.root], NOW)


def test_leaf_not_signed_by_next(pki: Pki) -> None:
    leaf = pki.leaf_with(issuer_key=pki.keys["other"])  # names the intermediate, wrong key
    with pytest.raises(CertificateChainError, match="not signed by chain certificate #1"):
        validate_certificate_chain([leaf, pki.inter], [pki.root], NOW)


def test_empty_and_garbage_chains() -> None:
    with pytest.raises(CertificateChainError, match="not valid PEM"):
        parse_certificate_chain(b"not a certificate")
    with pytest.raises(CertificateChainError):
        parse_certificate_chain(b"")
    with pytest.raises(CertificateChainError, match="larger"):
        parse_certificate_chain(b"x" * (64 * 1024 + 1))
    with pytest.raises(CertificateChainError, match="empty"):
        validate_certificate_chain([], [], NOW)


def test_verifier_needs_anchors(clock: VirtualClock, fetcher: LocalFetcher) -> None:
    with pytest.raises(ValueError, match="trust_anchors"):
        AlexaRequestVerifier(clock=clock, fetcher=fetcher, trust_anchors=[])


async def test_expired_leaf_end_to_end(pki: Pki, clock: VirtualClock) -> None:
    leaf = pki.leaf_with(not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    fetcher = LocalFetcher({URL: _pem(leaf, pki.inter)})
    body = _body()
    with pytest.raises(CertificateNotValidNowError):
        await _verifier(pki, clock, fetcher).verify(_headers(pki, body), body)


async def test_untrusted_root_end_to_end(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    other = pki.keys["other"]
    stranger = _make_cert(
        subject="Someone Else's CA",
        public_key=other.public_key(),
        issuer=None,
        issuer_key=other,
        ca=True,
    )
    verifier = AlexaRequestVerifier(clock=clock, fetcher=fetcher, trust_anchors=[stranger])
    body = _body()
    with pytest.raises(UntrustedCertificateError):
        await verifier.verify(_headers(pki, body), body)


# --------------------------------------------------------------------------- signature rules


async def test_tampered_body(pki: Pki, clock: VirtualClock, fetcher: LocalFetcher) -> None:
    body = _body()
    headers = _headers(pki, body)
    tampered = body.replace(b"LaunchRequest", b"IntentRequest")
    with pytest.raises(SignatureMismatchError, match="Signature-256"):
        await _verifier(pki, clock, fetcher).verify(headers, tampered)


async def test_whitespace_change_in_body_breaks_signature(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = _headers(pki, body)
    reformatted = json.dumps(json.loads(body), indent=2).encode()  # same JSON, other bytes
    with pytest.raises(SignatureMismatchError):
        await _verifier(pki, clock, fetcher).verify(headers, reformatted)


async def test_signature_by_another_key(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = {"SignatureCertChainUrl": URL, "Signature-256": _sign(pki.keys["other"], body)}
    with pytest.raises(SignatureMismatchError):
        await _verifier(pki, clock, fetcher).verify(headers, body)


@pytest.mark.parametrize("bad", ["not base64!!", "abc", "@@@@", "===="])
async def test_bad_base64(pki: Pki, clock: VirtualClock, fetcher: LocalFetcher, bad: str) -> None:
    body = _body()
    headers = {"SignatureCertChainUrl": URL, "Signature-256": bad}
    with pytest.raises(SignatureEncodingError, match="base64"):
        await _verifier(pki, clock, fetcher).verify(headers, body)
    assert fetcher.calls == []  # rejected before downloading anything


async def test_valid_base64_of_wrong_length(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = {"SignatureCertChainUrl": URL, "Signature-256": base64.b64encode(b"x" * 10).decode()}
    with pytest.raises(SignatureMismatchError):
        await _verifier(pki, clock, fetcher).verify(headers, body)


async def test_missing_signature(pki: Pki, clock: VirtualClock, fetcher: LocalFetcher) -> None:
    body = _body()
    with pytest.raises(SignatureMissingError, match="Signature-256"):
        await _verifier(pki, clock, fetcher).verify({"SignatureCertChainUrl": URL}, body)
    with pytest.raises(SignatureMissingError):
        await _verifier(pki, clock, fetcher).verify(
            {"SignatureCertChainUrl": URL, "Signature-256": "  "}, body
        )


async def test_legacy_sha1_refused_by_default(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = {"SignatureCertChainUrl": URL, "Signature": _sign(pki.leaf_key, body, hashes.SHA1())}
    with pytest.raises(SignatureMissingError, match="legacy"):
        await _verifier(pki, clock, fetcher).verify(headers, body)


async def test_legacy_sha1_accepted_when_enabled(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = {"SignatureCertChainUrl": URL, "Signature": _sign(pki.leaf_key, body, hashes.SHA1())}
    verifier = _verifier(pki, clock, fetcher, allow_legacy_sha1=True)
    result = await verifier.verify(headers, body)
    assert result.signature_algorithm == "SHA-1"
    with pytest.raises(SignatureMismatchError, match="Signature does not match"):
        await verifier.verify(headers, body + b" ")


async def test_sha256_signature_in_legacy_header_does_not_verify(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = {"SignatureCertChainUrl": URL, "Signature": _sign(pki.leaf_key, body)}
    with pytest.raises(SignatureMismatchError):
        await _verifier(pki, clock, fetcher, allow_legacy_sha1=True).verify(headers, body)


async def test_signature_256_preferred_over_legacy(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = {**_headers(pki, body), "Signature": "garbage"}
    result = await _verifier(pki, clock, fetcher, allow_legacy_sha1=True).verify(headers, body)
    assert result.signature_algorithm == "SHA-256"


def test_verify_body_signature_pure(pki: Pki) -> None:
    body = b'{"any":"bytes"}'
    verify_body_signature(pki.leaf, body, _sign(pki.leaf_key, body))
    with pytest.raises(SignatureMismatchError):
        verify_body_signature(pki.leaf, body + b"\n", _sign(pki.leaf_key, body))


def test_non_rsa_leaf_rejected(pki: Pki) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    leaf = pki.leaf_with(public_key=ec_key.public_key())
    body = b"{}"
    sig = base64.b64encode(ec_key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    with pytest.raises(SignatureMismatchError, match="RSA"):
        verify_body_signature(leaf, body, sig)


# --------------------------------------------------------------------------- timestamp rules


async def test_old_timestamp(pki: Pki, clock: VirtualClock, fetcher: LocalFetcher) -> None:
    body = _body(NOW - timedelta(seconds=151))
    with pytest.raises(TimestampTooOldError, match="151 s old"):
        await _verifier(pki, clock, fetcher).verify(_headers(pki, body), body)


async def test_future_timestamp(pki: Pki, clock: VirtualClock, fetcher: LocalFetcher) -> None:
    body = _body(NOW + timedelta(seconds=151))
    with pytest.raises(TimestampInFutureError, match="future"):
        await _verifier(pki, clock, fetcher).verify(_headers(pki, body), body)


@pytest.mark.parametrize("offset", [-150, -149, 0, 149, 150])
async def test_timestamp_within_tolerance(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher, offset: int
) -> None:
    body = _body(NOW + timedelta(seconds=offset))
    await _verifier(pki, clock, fetcher).verify(_headers(pki, body), body)


async def test_replay_after_clock_moves_on(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    body = _body()
    headers = _headers(pki, body)
    verifier = _verifier(pki, clock, fetcher)
    await verifier.verify(headers, body)
    clock.advance(151)
    with pytest.raises(TimestampTooOldError):
        await verifier.verify(headers, body)


def test_timestamp_formats() -> None:
    now = NOW
    assert check_request_timestamp({"request": {"timestamp": "2026-11-26T12:00:00Z"}}, now) == now
    assert check_request_timestamp(
        {"request": {"timestamp": "2026-11-26T04:00:30-08:00"}}, now
    ) == now + timedelta(seconds=30)
    ms = int(now.timestamp() * 1000)
    assert check_request_timestamp({"request": {"timestamp": ms}}, now) == now


@pytest.mark.parametrize(
    ("envelope", "fragment"),
    [
        ({}, "no request.timestamp"),
        ({"request": {}}, "no request.timestamp"),
        ({"request": "x"}, "no request.timestamp"),
        ({"request": {"timestamp": "yesterday"}}, "not ISO-8601"),
        ({"request": {"timestamp": "2026-11-26T12:00:00"}}, "no time zone"),
        ({"request": {"timestamp": None}}, "not a time"),
        ({"request": {"timestamp": True}}, "not a time"),
        ({"request": {"timestamp": 10**30}}, "out of range"),
    ],
)
def test_bad_timestamps(envelope: dict[str, Any], fragment: str) -> None:
    with pytest.raises(RequestBodyError, match=fragment):
        check_request_timestamp(envelope, NOW)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b""])
async def test_signed_but_malformed_body(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher, body: bytes
) -> None:
    with pytest.raises(RequestBodyError):
        await _verifier(pki, clock, fetcher).verify(_headers(pki, body), body)


async def test_body_must_be_bytes(pki: Pki, clock: VirtualClock, fetcher: LocalFetcher) -> None:
    body = _body()
    with pytest.raises(RequestBodyError, match="bytes"):
        await _verifier(pki, clock, fetcher).verify(_headers(pki, body), body.decode())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- fetching and cache


async def test_chain_is_cached_by_url(pki: Pki, clock: VirtualClock, fetcher: LocalFetcher) -> None:
    verifier = _verifier(pki, clock, fetcher)
    for _ in range(3):
        body = _body(NOW)
        await verifier.verify(_headers(pki, body), body)
    assert fetcher.calls == [URL]


async def test_fetch_failure_is_reported_and_not_cached(pki: Pki, clock: VirtualClock) -> None:
    fetcher = LocalFetcher({})
    verifier = _verifier(pki, clock, fetcher)
    body = _body()
    with pytest.raises(CertificateFetchError, match="404"):
        await verifier.verify(_headers(pki, body), body)
    fetcher.files[URL] = _pem(pki.leaf, pki.inter)
    await verifier.verify(_headers(pki, body), body)
    assert fetcher.calls == [URL, URL]


async def test_fetcher_returning_non_bytes(pki: Pki, clock: VirtualClock) -> None:
    async def bad_fetcher(url: str) -> bytes:
        return "text"  # type: ignore[return-value]

    verifier = AlexaRequestVerifier(clock=clock, fetcher=bad_fetcher, trust_anchors=[pki.root])
    body = _body()
    with pytest.raises(CertificateFetchError, match="not bytes"):
        await verifier.verify(_headers(pki, body), body)


async def test_garbage_download(pki: Pki, clock: VirtualClock) -> None:
    fetcher = LocalFetcher({URL: b"<html>Access Denied</html>"})
    body = _body()
    with pytest.raises(CertificateChainError, match="PEM"):
        await _verifier(pki, clock, fetcher).verify(_headers(pki, body), body)


async def test_concurrent_requests_share_one_download(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    fetcher.gate = asyncio.Event()
    verifier = _verifier(pki, clock, fetcher)
    body = _body()
    tasks = [asyncio.create_task(verifier.verify(_headers(pki, body), body)) for _ in range(5)]
    await asyncio.wait_for(fetcher.started.wait(), timeout=5)
    fetcher.gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    assert len(results) == 5
    assert fetcher.calls == [URL]


async def test_concurrent_failure_reaches_every_waiter(pki: Pki, clock: VirtualClock) -> None:
    fetcher = LocalFetcher({})
    fetcher.gate = asyncio.Event()
    verifier = _verifier(pki, clock, fetcher)
    body = _body()
    tasks = [asyncio.create_task(verifier.verify(_headers(pki, body), body)) for _ in range(3)]
    await asyncio.wait_for(fetcher.started.wait(), timeout=5)
    fetcher.gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)
    assert all(isinstance(r, CertificateFetchError) for r in results)
    assert fetcher.calls == [URL]


async def test_cache_refetches_after_leaf_expiry(pki: Pki) -> None:
    short_leaf = pki.leaf_with(not_after=NOW + timedelta(hours=1))
    fetcher = LocalFetcher({URL: _pem(short_leaf, pki.inter)})
    cache = CertificateChainCache()
    await cache.get(URL, fetcher, NOW)
    await cache.get(URL, fetcher, NOW + timedelta(minutes=59))
    assert fetcher.calls == [URL]
    fetcher.files[URL] = _pem(pki.leaf, pki.inter)  # renewed at the same URL
    chain = await cache.get(URL, fetcher, NOW + timedelta(hours=2))
    assert chain[0] == pki.leaf
    assert fetcher.calls == [URL, URL]


async def test_cache_is_bounded(pki: Pki) -> None:
    urls = [f"https://s3.amazonaws.com/echo.api/c{i}.pem" for i in range(5)]
    fetcher = LocalFetcher({u: _pem(pki.leaf, pki.inter) for u in urls})
    cache = CertificateChainCache(max_entries=3)
    for u in urls:
        await cache.get(u, fetcher, NOW)
    assert len(cache) == 3
    assert urls[0] not in cache and urls[-1] in cache
    with pytest.raises(ValueError):
        CertificateChainCache(max_entries=0)


async def test_every_failure_is_an_alexa_verification_error(
    pki: Pki, clock: VirtualClock, fetcher: LocalFetcher
) -> None:
    # The endpoint catches one base class and answers 400.
    body = _body()
    attempts: list[Callable[[], Any]] = [
        lambda: _verifier(pki, clock, fetcher).verify({}, body),
        lambda: _verifier(pki, clock, fetcher).verify({"SignatureCertChainUrl": URL}, body),
        lambda: _verifier(pki, clock, fetcher).verify(_headers(pki, body), body + b"x"),
    ]
    for attempt in attempts:
        with pytest.raises(AlexaVerificationError):
            await attempt()
