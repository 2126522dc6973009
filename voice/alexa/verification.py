"""Proof that a skill request was sent by Alexa, before anything in it is believed.

A self-hosted skill endpoint is reachable from the internet, so every request must carry a
signature made with Amazon's ``echo-api.amazon.com`` certificate and a fresh timestamp.
This module checks, in order: the certificate-chain URL, the chain itself (downloaded
through an injected fetcher and cached by URL), the body signature, and the timestamp.
Each failure raises its own :class:`AlexaVerificationError` subclass so the endpoint can
answer 400 with a precise log line.

The pieces are pure functions; :class:`AlexaRequestVerifier` wires them to a clock, a
fetcher and a cache.  Nothing here reads the system time or the system CA store: the trust
anchors are a parameter (production passes Amazon's roots; tests pass their own CA).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import posixpath
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from controller.clock import Clock, utc_datetime

__all__ = [
    "ALEXA_SIGNING_DNS_NAME",
    "AlexaRequestVerifier",
    "AlexaVerificationError",
    "CertificateChainCache",
    "CertificateChainError",
    "CertificateFetchError",
    "CertificateNameError",
    "CertificateNotValidNowError",
    "CertificateUrlError",
    "ChainFetcher",
    "RequestBodyError",
    "SignatureEncodingError",
    "SignatureError",
    "SignatureMismatchError",
    "SignatureMissingError",
    "TimestampError",
    "TimestampInFutureError",
    "TimestampTooOldError",
    "UntrustedCertificateError",
    "VerifiedAlexaRequest",
    "check_request_timestamp",
    "parse_envelope",
    "parse_certificate_chain",
    "validate_cert_chain_url",
    "validate_certificate_chain",
    "verify_body_signature",
]

ALEXA_SIGNING_DNS_NAME = "echo-api.amazon.com"
DEFAULT_MAX_SKEW_S = 150.0
MAX_CHAIN_BYTES = 64 * 1024
MAX_CHAIN_LENGTH = 8

#: Downloads the PEM chain at a (validated) URL; raise anything on failure.
ChainFetcher = Callable[[str], Awaitable[bytes]]


# --------------------------------------------------------------------------- errors


class AlexaVerificationError(Exception):
    """The request must be refused (HTTP 400); the message says which check failed."""


class CertificateUrlError(AlexaVerificationError):
    """SignatureCertChainUrl is missing or not an Amazon echo.api S3 URL."""


class CertificateFetchError(AlexaVerificationError):
    """The certificate chain could not be downloaded."""


class CertificateChainError(AlexaVerificationError):
    """The downloaded chain is malformed or its certificates do not sign each other."""


class CertificateNotValidNowError(CertificateChainError):
    """A certificate in the chain is expired or not yet valid."""


class CertificateNameError(CertificateChainError):
    """The signing certificate is not issued to echo-api.amazon.com."""


class UntrustedCertificateError(CertificateChainError):
    """The chain does not end at one of the configured trust anchors."""


class SignatureError(AlexaVerificationError):
    """Base of the body-signature failures."""


class SignatureMissingError(SignatureError):
    """No usable signature header was sent."""


class SignatureEncodingError(SignatureError):
    """The signature header is not valid base64."""


class SignatureMismatchError(SignatureError):
    """The signature does not match the body bytes and the signing certificate."""


class RequestBodyError(AlexaVerificationError):
    """The body is not a JSON Alexa envelope with a request timestamp."""


class TimestampError(AlexaVerificationError):
    """Base of the request-timestamp failures (replay protection)."""


class TimestampTooOldError(TimestampError):
    pass


class TimestampInFutureError(TimestampError):
    pass


# --------------------------------------------------------------------------- pure checks


def validate_cert_chain_url(url: str | None) -> str:
    """Check the SignatureCertChainUrl rules; return the canonical URL that will be fetched.

    Canonical means scheme and host lower-cased, port dropped and the path normalised, so
    the URL we fetch is exactly the one we checked.
    """
    if url is None or not isinstance(url, str) or not url.strip():
        raise CertificateUrlError("missing SignatureCertChainUrl header")
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CertificateUrlError(f"SignatureCertChainUrl {url!r} is not a valid URL") from exc
    if parts.scheme.lower() != "https":
        raise CertificateUrlError(f"SignatureCertChainUrl scheme must be https, got {url!r}")
    if (parts.hostname or "") != "s3.amazonaws.com":
        raise CertificateUrlError(
            f"SignatureCertChainUrl host must be s3.amazonaws.com, got {parts.hostname!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise CertificateUrlError("SignatureCertChainUrl must not carry user information")
    if port is not None and port != 443:
        raise CertificateUrlError(f"SignatureCertChainUrl port must be 443, got {port}")
    if parts.query or parts.fragment:
        raise CertificateUrlError("SignatureCertChainUrl must not have a query or fragment")
    # Decode %2e%2e / %2f first so encoded traversal is normalised like the plain kind.
    raw_path = unquote(parts.path)
    if "%" in raw_path or "\\" in raw_path or "\x00" in raw_path:
        raise CertificateUrlError(f"SignatureCertChainUrl path {parts.path!r} is not allowed")
    path = posixpath.normpath(raw_path) if raw_path else ""
    if not path.startswith("/echo.api/") or path.startswith("//"):
        raise CertificateUrlError(
            f"SignatureCertChainUrl path must start with /echo.api/, got {parts.path!r}"
        )
    return f"https://s3.amazonaws.com{path}"


def parse_certificate_chain(pem: bytes) -> tuple[x509.Certificate, ...]:
    """PEM bytes, leaf first, as Amazon serves them."""
    if not isinstance(pem, bytes | bytearray):
        raise CertificateChainError(f"certificate chain must be bytes, got {type(pem).__name__}")
    if len(pem) > MAX_CHAIN_BYTES:
        raise CertificateChainError(f"certificate chain is larger than {MAX_CHAIN_BYTES} bytes")
    try:
        certs = x509.load_pem_x509_certificates(bytes(pem))
    except ValueError as exc:
        raise CertificateChainError(f"certificate chain is not valid PEM: {exc}") from exc
    if not certs:
        raise CertificateChainError("certificate chain is empty")
    if len(certs) > MAX_CHAIN_LENGTH:
        raise CertificateChainError(f"certificate chain has more than {MAX_CHAIN_LENGTH} certs")
    return tuple(certs)


def validate_certificate_chain(
    chain: Sequence[x509.Certificate],
    trust_anchors: Sequence[x509.Certificate],
    now: datetime,
) -> x509.Certificate:
    """Check times, the signing name and the signatures up to a trust anchor; return the leaf.

    Rules: every certificate (and the anchor reached) is valid at ``now``; the leaf names
    echo-api.amazon.com in its SAN; each certificate is signed by the next one, which must be
    a CA; the walk ends at a certificate that *is* an anchor (same subject and key, so a
    cross-signed copy of a root counts) or that an anchor signed directly.
    """
    _require_aware(now)
    if not chain:
        raise CertificateChainError("certificate chain is empty")
    leaf = chain[0]
    for index, cert in enumerate(chain):
        _check_validity(cert, now, _position(index))
    _check_signing_name(leaf)

    anchor_ids = {_identity(anchor) for anchor in trust_anchors}
    for index, cert in enumerate(chain):
        if _identity(cert) in anchor_ids:
            return leaf
        if index + 1 < len(chain):
            issuer = chain[index + 1]
            _check_is_ca(issuer, _position(index + 1))
            _check_signed_by(cert, issuer, _position(index), _position(index + 1))
            continue
        for anchor in trust_anchors:
            if anchor.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(anchor)
            except (ValueError, TypeError, InvalidSignature):
                continue
            _check_validity(anchor, now, f"trust anchor {anchor.subject.rfc4514_string()!r}")
            return leaf
        raise UntrustedCertificateError(
            f"certificate chain does not lead to a trusted anchor "
            f"(last issuer {cert.issuer.rfc4514_string()!r})"
        )
    raise UntrustedCertificateError("certificate chain does not lead to a trusted anchor")


def verify_body_signature(
    leaf: x509.Certificate,
    body: bytes,
    signature_b64: str,
    *,
    legacy_sha1: bool = False,
) -> None:
    """RSA PKCS#1 v1.5 signature over the raw body: SHA-256, or SHA-1 for the legacy header."""
    if not signature_b64 or not signature_b64.strip():
        raise SignatureMissingError("signature header is empty")
    signature = _decode_signature(signature_b64)
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureMismatchError("signing certificate does not hold an RSA key")
    algorithm: hashes.HashAlgorithm = hashes.SHA1() if legacy_sha1 else hashes.SHA256()
    try:
        key.verify(signature, bytes(body), padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        header = "Signature" if legacy_sha1 else "Signature-256"
        raise SignatureMismatchError(f"{header} does not match the request body") from exc


def check_request_timestamp(
    envelope: Mapping[str, Any], now: datetime, max_skew_s: float = DEFAULT_MAX_SKEW_S
) -> datetime:
    """``request.timestamp`` must be within ``max_skew_s`` of ``now`` either way."""
    _require_aware(now)
    request = envelope.get("request")
    if not isinstance(request, Mapping) or "timestamp" not in request:
        raise RequestBodyError("request body has no request.timestamp")
    stamp = _parse_timestamp(request["timestamp"])
    skew = (stamp - now).total_seconds()
    if skew < -max_skew_s:
        raise TimestampTooOldError(
            f"request.timestamp {stamp.isoformat()} is {-skew:.0f} s old (limit {max_skew_s:.0f} s)"
        )
    if skew > max_skew_s:
        raise TimestampInFutureError(
            f"request.timestamp {stamp.isoformat()} is {skew:.0f} s in the future "
            f"(limit {max_skew_s:.0f} s)"
        )
    return stamp


def parse_envelope(body: bytes) -> dict[str, Any]:
    """The JSON object of an Alexa request body."""
    try:
        envelope = json.loads(bytes(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestBodyError(f"request body is not JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise RequestBodyError("request body is not a JSON object")
    return envelope


# --------------------------------------------------------------------------- cache, verifier


class CertificateChainCache:
    """Parsed chains keyed by canonical URL; one download per URL even under concurrency.

    Failed downloads are not cached; an entry is dropped once its leaf has expired so a
    renewed chain at the same URL is picked up.  Bounded (LRU) because the URL comes from
    the request.
    """

    def __init__(self, max_entries: int = 16) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._max_entries = max_entries
        self._chains: OrderedDict[str, tuple[x509.Certificate, ...]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[tuple[x509.Certificate, ...]]] = {}

    def __len__(self) -> int:
        return len(self._chains)

    def __contains__(self, url: object) -> bool:
        return url in self._chains

    async def get(
        self, url: str, fetcher: ChainFetcher, now: datetime
    ) -> tuple[x509.Certificate, ...]:
        chain = self._chains.get(url)
        if chain is not None:
            if chain[0].not_valid_after_utc >= now:
                self._chains.move_to_end(url)
                return chain
            del self._chains[url]
        pending = self._pending.get(url)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[tuple[x509.Certificate, ...]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[url] = future
        try:
            chain = parse_certificate_chain(await _fetch(url, fetcher))
        except AlexaVerificationError as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: there may be no other waiter
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._pending[url]
        future.set_result(chain)
        self._chains[url] = chain
        while len(self._chains) > self._max_entries:
            self._chains.popitem(last=False)
        return chain


@dataclass(frozen=True)
class VerifiedAlexaRequest:
    envelope: dict[str, Any]
    timestamp: datetime
    certificate_url: str
    signature_algorithm: str  # "SHA-256" or "SHA-1"


class AlexaRequestVerifier:
    """All request checks in one call, for the skill endpoint."""

    def __init__(
        self,
        *,
        clock: Clock,
        fetcher: ChainFetcher,
        trust_anchors: Sequence[x509.Certificate],
        allow_legacy_sha1: bool = False,
        max_skew_s: float = DEFAULT_MAX_SKEW_S,
        cache: CertificateChainCache | None = None,
    ) -> None:
        if not trust_anchors:
            raise ValueError("trust_anchors must name at least one CA certificate")
        if max_skew_s <= 0:
            raise ValueError(f"max_skew_s must be positive, got {max_skew_s}")
        self._clock = clock
        self._fetcher = fetcher
        self._anchors = tuple(trust_anchors)
        self._allow_legacy_sha1 = allow_legacy_sha1
        self._max_skew_s = max_skew_s
        self._cache = cache if cache is not None else CertificateChainCache()

    async def verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedAlexaRequest:
        if not isinstance(body, bytes | bytearray):
            raise RequestBodyError(f"request body must be raw bytes, got {type(body).__name__}")
        lowered = {k.lower(): v for k, v in headers.items()}
        url = validate_cert_chain_url(lowered.get("signaturecertchainurl"))
        signature, legacy = self._pick_signature(lowered)
        _decode_signature(signature)  # reject garbage before any download

        now = utc_datetime(self._clock)
        chain = await self._cache.get(url, self._fetcher, now)
        leaf = validate_certificate_chain(chain, self._anchors, now)
        verify_body_signature(leaf, bytes(body), signature, legacy_sha1=legacy)

        envelope = parse_envelope(bytes(body))
        stamp = check_request_timestamp(envelope, now, self._max_skew_s)
        return VerifiedAlexaRequest(envelope, stamp, url, "SHA-1" if legacy else "SHA-256")

    def _pick_signature(self, headers: Mapping[str, str]) -> tuple[str, bool]:
        modern = (headers.get("signature-256") or "").strip()
        if modern:
            return modern, False
        legacy = (headers.get("signature") or "").strip()
        if legacy and self._allow_legacy_sha1:
            return legacy, True
        if legacy:
            raise SignatureMissingError(
                "only the legacy SHA-1 Signature header was sent and it is not accepted; "
                "Signature-256 is required"
            )
        raise SignatureMissingError("missing Signature-256 header")


# --------------------------------------------------------------------------- helpers


async def _fetch(url: str, fetcher: ChainFetcher) -> bytes:
    try:
        data = await fetcher(url)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise CertificateFetchError(f"could not download certificate chain {url}: {exc}") from exc
    if not isinstance(data, bytes | bytearray):
        raise CertificateFetchError(f"fetcher returned {type(data).__name__}, not bytes")
    if len(data) > MAX_CHAIN_BYTES:
        raise CertificateFetchError(f"certificate chain at {url} is larger than {MAX_CHAIN_BYTES}")
    return bytes(data)


def _decode_signature(signature_b64: str) -> bytes:
    try:
        decoded = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureEncodingError(f"signature header is not valid base64: {exc}") from exc
    if not decoded:
        raise SignatureEncodingError("signature header decodes to nothing")
    return decoded


def _parse_timestamp(value: object) -> datetime:
    if isinstance(value, bool):
        raise RequestBodyError(f"request.timestamp {value!r} is not a time")
    if isinstance(value, int | float):
        # Some Alexa request types have carried epoch milliseconds instead of ISO text.
        try:
            return datetime.fromtimestamp(value / 1000.0, tz=timezone.utc)
        except (OverflowError, OSError, ValueError) as exc:
            raise RequestBodyError(f"request.timestamp {value!r} is out of range") from exc
    if not isinstance(value, str):
        raise RequestBodyError(f"request.timestamp {value!r} is not a time")
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise RequestBodyError(f"request.timestamp {value!r} is not ISO-8601") from exc
    if stamp.tzinfo is None:
        raise RequestBodyError(f"request.timestamp {value!r} has no time zone")
    return stamp


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def _position(index: int) -> str:
    return "signing certificate" if index == 0 else f"chain certificate #{index}"


def _identity(cert: x509.Certificate) -> tuple[bytes, bytes]:
    key = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return cert.subject.public_bytes(), key


def _check_validity(cert: x509.Certificate, now: datetime, what: str) -> None:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < start:
        raise CertificateNotValidNowError(f"{what} is not valid until {start.isoformat()}")
    if now > end:
        raise CertificateNotValidNowError(f"{what} expired at {end.isoformat()}")


def _check_signing_name(leaf: x509.Certificate) -> None:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise CertificateNameError("signing certificate has no subjectAltName") from exc
    names = [name.lower().rstrip(".") for name in san.get_values_for_type(x509.DNSName)]
    if ALEXA_SIGNING_DNS_NAME not in names:
        raise CertificateNameError(
            f"signing certificate is not for {ALEXA_SIGNING_DNS_NAME} (SAN DNS names: {names})"
        )


def _check_is_ca(cert: x509.Certificate, what: str) -> None:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise CertificateChainError(f"{what} signs others but is not marked as a CA") from exc
    if not constraints.ca:
        raise CertificateChainError(f"{what} signs others but is not a CA")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise CertificateChainError(f"{what} is not allowed to sign certificates")


def _check_signed_by(
    cert: x509.Certificate, issuer: x509.Certificate, what: str, issuer_what: str
) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except ValueError as exc:
        raise CertificateChainError(f"{what} was not issued by {issuer_what}: {exc}") from exc
    except (TypeError, InvalidSignature) as exc:
        raise CertificateChainError(f"{what} is not signed by {issuer_what}") from exc
