"""Form fields of the portal: what each one accepts and how a submitted string becomes a value.

Every page builds its forms from these specs, so the page, the server-side check and the message
next to a bad field come from one description.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_HHMM = re.compile(r"^([01]\d|2[0-3])[0-5]\d$")
_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")

KINDS = ("int", "float", "bool", "text", "choice", "hhmm", "secret", "ipv4", "url")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str
    section: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    reboot: bool = False  # the manual's "*": takes effect after a reboot
    readonly: bool = False
    max_len: int = 200
    optional: bool = True  # text may be empty
    schemes: tuple[str, ...] = ()  # for url

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name}: unknown kind {self.kind!r}")


class FormErrors(ValueError):
    """Field name -> message, for every field that was refused (nothing was changed)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def _number_text(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise ValueError("a value is required")
    return text


def parse_value(spec: FieldSpec, raw: str) -> Any:
    """The typed value of one submitted field, or ValueError with the message to show."""
    if spec.kind == "int":
        text = _number_text(raw)
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"expected a whole number, got {text!r}")
        value: Any = int(text)
    elif spec.kind == "float":
        text = _number_text(raw)
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {text!r}")
    elif spec.kind == "bool":
        if raw not in ("on", "off"):
            raise ValueError("choose On or Off")
        return raw == "on"
    elif spec.kind == "choice":
        if raw not in spec.choices:
            raise ValueError(f"choose one of {', '.join(spec.choices)}")
        return raw
    elif spec.kind == "hhmm":
        text = raw.strip()
        if not _HHMM.match(text):
            raise ValueError("expected a time as HHMM, 0000…2359")
        return text
    else:
        text = raw.strip() if spec.kind != "secret" else raw
        if len(text) > spec.max_len:
            raise ValueError(f"at most {spec.max_len} characters")
        if not text.isprintable():
            raise ValueError("control characters are not allowed")
        if not text:
            if not spec.optional:
                raise ValueError("a value is required")
            return text
        if spec.kind == "ipv4":
            m = _IPV4.match(text)
            if m is None or any(int(p) > 255 for p in m.groups()):
                raise ValueError("expected an IPv4 address like 192.0.2.10")
        if spec.kind == "url" and spec.schemes and not any(
            text.startswith(f"{s}://") for s in spec.schemes
        ):
            raise ValueError(f"expected a URL starting with {' or '.join(s + '://' for s in spec.schemes)}")
        return text
    if spec.lo is not None and value < spec.lo or spec.hi is not None and value > spec.hi:
        raise ValueError(f"must be within {spec.lo:g}…{spec.hi:g}{' ' + spec.unit if spec.unit else ''}")
    return value


def parse_form(specs: Iterable[FieldSpec], form: Mapping[str, str]) -> dict[str, Any]:
    """Values of every editable field in ``specs``; raises FormErrors naming each bad one.

    A secret left empty means "keep the stored one" and is left out of the result.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        if spec.readonly:
            continue
        raw = form.get(spec.name)
        if raw is None:
            errors[spec.name] = "missing from the form"
            continue
        if spec.kind == "secret" and raw == "":
            continue
        try:
            values[spec.name] = parse_value(spec, raw)
        except ValueError as exc:
            errors[spec.name] = str(exc)
    if errors:
        raise FormErrors(errors)
    return values


def form_text(spec: FieldSpec, value: Any) -> str:
    """How a stored value is shown in its input (secrets are never sent back)."""
    if spec.kind == "secret":
        return ""
    if spec.kind == "bool":
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer() and spec.kind == "float":
        return f"{value:g}"
    return "" if value is None else str(value)
