"""The load-management LAN protocol: message types, their validation and the join proof.

One JSON object per WebSocket text frame, told apart by ``type`` (docs/load-management.md,
"LAN protocol", lists them in order).  Nothing else in the code builds or parses these frames:
:func:`encode` and :func:`decode` are the only doors, and :func:`decode` refuses anything
malformed with a :class:`LanProtocolError` naming the bad field.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from controller.loadmgmt.errors import LoadManagementError

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
LAN_PATH = "/llm"
_AMPS = Field(ge=0, le=1000)


class LanProtocolError(LoadManagementError):
    """A frame that is not a valid LAN message (bad JSON, unknown type, bad field)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Hello(_Message):
    """Gateway → client, first frame: the nonce the client must sign in its join."""

    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    nonce: str = Field(min_length=32, max_length=128, pattern=r"^[0-9a-f]+$")


class Join(_Message):
    """Client → gateway: who I am, and proof that I know the group secret."""

    type: Literal["join"] = "join"
    protocol: int = PROTOCOL_VERSION
    group_id: str = Field(min_length=1, max_length=32)
    serial: str = Field(min_length=1, max_length=64)
    wire: Literal["L1-L2", "L2-L3", "L1-L3"]
    max_a: int = Field(ge=0, le=80)
    token: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]+$")
    charge_point_id: str | None = Field(default=None, min_length=1, max_length=64)


class Joined(_Message):
    """Gateway → client: accepted; ``fallback_a`` overwrites the client's own fallback."""

    type: Literal["joined"] = "joined"
    group_id: str
    index: int = Field(ge=1)
    fallback_a: int = Field(ge=0, le=80)
    ping_interval_s: float = Field(gt=0)
    timeout_s: float = Field(gt=0)


RejectCode = Literal["group_id", "auth", "group_full", "wiring", "protocol", "bad_message"]


class Rejected(_Message):
    """Gateway → client before it closes the link: why the client may not join."""

    type: Literal["rejected"] = "rejected"
    code: RejectCode
    reason: str = Field(min_length=1, max_length=300)


class PhaseCurrents(_Message):
    L1: float = _AMPS
    L2: float = _AMPS
    L3: float = _AMPS


class State(_Message):
    """Client → gateway on every change: what the station wants and draws.

    ``requesting``: a session is active and wants current.  ``requested_a``: the lowest limit
    of the station's other sources (None when nothing else limits).  ``arrival``: the client's
    own clock at the start of its session, for display; the gateway orders FIFS by its own
    clock so members with unsynchronised clocks cannot jump the queue.
    """

    type: Literal["state"] = "state"
    requesting: bool
    max_a: int = Field(ge=0, le=80)
    requested_a: float | None = Field(default=None, ge=0, le=80)
    status: str = Field(min_length=1, max_length=32)
    phase_a: PhaseCurrents
    arrival: float | None = None


class Limit(_Message):
    """Gateway → client: the current the station may offer now (0 = suspended) and why."""

    type: Literal["limit"] = "limit"
    amps: int = Field(ge=0, le=80)
    reason: str = Field(min_length=1, max_length=300)
    fallback_a: int = Field(ge=0, le=80)


class Ping(_Message):
    type: Literal["ping"] = "ping"
    seq: int = Field(ge=0)


class Pong(_Message):
    type: Literal["pong"] = "pong"
    seq: int = Field(ge=0)


class Bye(_Message):
    """Either side, before a deliberate close (a shutdown, not a loss)."""

    type: Literal["bye"] = "bye"
    reason: str = Field(min_length=1, max_length=300)


LanMessage = Annotated[
    Hello | Join | Joined | Rejected | State | Limit | Ping | Pong | Bye,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[LanMessage] = TypeAdapter(LanMessage)


def encode(message: _Message) -> str:
    return message.model_dump_json()


def decode(frame: str | bytes) -> LanMessage:
    """The message in ``frame``, or LanProtocolError saying which field is wrong."""
    if len(frame) > MAX_FRAME_BYTES:
        raise LanProtocolError(f"frame of {len(frame)} bytes is over {MAX_FRAME_BYTES}")
    try:
        return _ADAPTER.validate_json(frame)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"]) or "(frame)"
            problems.append(f"{path}: {err['msg']} (got {err.get('input')!r})"[:200])
        raise LanProtocolError("bad LAN message: " + "; ".join(problems)) from None


def join_token(secret: str, nonce: str, serial: str, group_id: str) -> str:
    """HMAC-SHA256 over the gateway's nonce and the claimed identity: the secret never travels."""
    text = f"{nonce}|{serial}|{group_id}".encode()
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def token_valid(secret: str, nonce: str, join: Join) -> bool:
    expected = join_token(secret, nonce, join.serial, join.group_id)
    return hmac.compare_digest(expected, join.token)
