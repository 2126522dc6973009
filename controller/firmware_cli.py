"""`mq200 firmware …`: make a signing key pair, sign an image, check an image (docs/portal.md).

Wire into controller/cli.py with ``add_firmware_parser(sub)`` and, for ``args.command ==
"firmware"``, ``return run_firmware(args)``. Also runnable alone: ``python -m controller.firmware_cli``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.portal.firmware import (
    FirmwareError,
    build_image,
    check_image,
    generate_key_pair,
    load_private_key,
    load_public_key,
)


def add_firmware_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fw = sub.add_parser("firmware", help="sign and check firmware images for the portal upload")
    fw_sub = fw.add_subparsers(dest="firmware_command", required=True)
    keygen = fw_sub.add_parser("keygen", help="make an ed25519 signing key pair")
    keygen.add_argument("--private", required=True, help="private key PEM to write (keep it secret)")
    keygen.add_argument("--public", required=True,
                        help="public key PEM to write (install as <data dir>/firmware-signing.pub)")
    sign = fw_sub.add_parser("sign", help="wrap a payload into a signed image")
    sign.add_argument("payload", help="the firmware payload file")
    sign.add_argument("--key", required=True, help="private key PEM")
    sign.add_argument("--version", required=True, help="dotted version, e.g. 1.2.0")
    sign.add_argument("--notes", default="", help="release notes kept in the manifest")
    sign.add_argument("--out", required=True, help="image file to write")
    verify = fw_sub.add_parser("verify", help="check an image against a public key")
    verify.add_argument("image")
    verify.add_argument("--public", required=True, help="public key PEM")


def run_firmware(args: argparse.Namespace) -> int:
    try:
        if args.firmware_command == "keygen":
            private, public = Path(args.private), Path(args.public)
            if private.exists():
                raise FirmwareError(f"{private} exists; refusing to overwrite a key")
            generate_key_pair(private, public)
            print(f"private key: {private} (mode 600)\npublic key: {public}")
        elif args.firmware_command == "sign":
            key = load_private_key(Path(args.key))
            payload = Path(args.payload).read_bytes()
            image = build_image(key, args.version, payload, args.notes)
            Path(args.out).write_bytes(image)
            print(f"{args.out}: firmware {args.version}, {len(payload)} payload bytes, signed")
        elif args.firmware_command == "verify":
            checked = check_image(Path(args.image).read_bytes(), load_public_key(Path(args.public)))
            print(f"{args.image}: good signature, firmware {checked.version} for {checked.model}")
        else:
            raise FirmwareError(f"unknown firmware command {args.firmware_command!r}")
    except (FirmwareError, OSError) as exc:
        print(f"mq200 firmware: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mq200")
    add_firmware_parser(parser.add_subparsers(dest="command", required=True))
    return run_firmware(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
