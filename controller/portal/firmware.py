"""Signed firmware images (docs/portal.md §Firmware images): format, signing, checking, install.

An image is one file::

    b"MQ200FW1" | manifest length (4 bytes, big endian) | manifest (JSON, UTF-8) | payload
    | ed25519 signature (64 bytes) over everything before it

The manifest names the model, the version and the payload's size and SHA-256. Nothing is written
until the whole image has been checked, so a bad image leaves the running firmware untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

MAGIC = b"MQ200FW1"
MODEL = "MQ 200"
SIGNATURE_SIZE = 64
MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_MANIFEST_BYTES = 16 * 1024
_VERSION = re.compile(r"^\d{1,4}(\.\d{1,4}){1,3}$")


class FirmwareError(ValueError):
    """The image was refused; the message says why, for the person uploading it."""


@dataclass(frozen=True)
class FirmwareImage:
    version: str
    model: str
    payload: bytes
    manifest: dict[str, Any]


def version_key(version: str) -> tuple[int, ...]:
    if not _VERSION.match(version):
        raise FirmwareError(f"version {version!r} is not dotted numbers like 1.2.3")
    return tuple(int(p) for p in version.split("."))


def build_image(private_key: Ed25519PrivateKey, version: str, payload: bytes,
                notes: str = "") -> bytes:
    """What the vendor's `mq200 firmware sign` produces."""
    version_key(version)
    manifest = {
        "model": MODEL,
        "version": version,
        "payload_size": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "notes": notes,
    }
    body = json.dumps(manifest, sort_keys=True).encode()
    signed = MAGIC + struct.pack(">I", len(body)) + body + payload
    return signed + private_key.sign(signed)


def check_image(data: bytes, public_key: Ed25519PublicKey) -> FirmwareImage:
    """Parse and verify an uploaded image, or raise FirmwareError with a clear reason."""
    if len(data) > MAX_IMAGE_BYTES:
        raise FirmwareError(f"image is {len(data)} bytes; at most {MAX_IMAGE_BYTES} are accepted")
    if not data.startswith(MAGIC):
        raise FirmwareError("not an MQ 200 firmware image (wrong header)")
    if len(data) < len(MAGIC) + 4 + SIGNATURE_SIZE:
        raise FirmwareError("image is truncated")
    (size,) = struct.unpack(">I", data[len(MAGIC):len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if size > MAX_MANIFEST_BYTES or start + size + SIGNATURE_SIZE > len(data):
        raise FirmwareError("image is truncated or its manifest length is wrong")
    signed, signature = data[:-SIGNATURE_SIZE], data[-SIGNATURE_SIZE:]
    try:
        public_key.verify(signature, signed)
    except InvalidSignature:
        raise FirmwareError(
            "signature check failed: the image is unsigned, tampered with, or signed by "
            "another key; the running firmware was not changed"
        ) from None
    try:
        manifest = json.loads(data[start:start + size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FirmwareError("manifest is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise FirmwareError("manifest is not a JSON object")
    payload = data[start + size:-SIGNATURE_SIZE]
    if manifest.get("model") != MODEL:
        raise FirmwareError(f"image is for model {manifest.get('model')!r}, this is an {MODEL}")
    version = manifest.get("version")
    if not isinstance(version, str):
        raise FirmwareError("manifest has no version")
    version_key(version)
    if manifest.get("payload_size") != len(payload):
        raise FirmwareError("payload size does not match the manifest")
    if manifest.get("payload_sha256") != hashlib.sha256(payload).hexdigest():
        raise FirmwareError("payload checksum does not match the manifest")
    return FirmwareImage(version, MODEL, payload, manifest)


# ---------------------------------------------------------------------------- keys

def generate_key_pair(private_path: Path, public_path: Path) -> Ed25519PublicKey:
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public = key.public_key()
    public_path.write_bytes(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return public


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise FirmwareError(f"cannot read private key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise FirmwareError(f"{path} is not an ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise FirmwareError(f"cannot read public key {path}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise FirmwareError(f"{path} is not an ed25519 public key")
    return key


# ---------------------------------------------------------------------------- install

@dataclass(frozen=True)
class InstallResult:
    version: str
    previous: str
    downgrade: bool
    path: Path


class FirmwareSlot:
    """Where accepted images are kept, and which version the charger runs."""

    def __init__(self, directory: Path, running_version: str) -> None:
        self.directory = directory
        self.running_version = running_version

    def install(self, data: bytes, public_key: Ed25519PublicKey, *,
                allow_downgrade: bool) -> InstallResult:
        image = check_image(data, public_key)
        previous = self.running_version
        downgrade = version_key(image.version) < version_key(previous)
        if downgrade and not allow_downgrade:
            raise FirmwareError(
                f"{image.version} is older than the running {previous}: downgrades are allowed "
                "but discouraged; tick 'install an older version' to go ahead"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"mq200-{image.version}.img"
        tmp = target.with_suffix(".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        self.running_version = image.version
        return InstallResult(image.version, previous, downgrade, target)
