"""Bytes of the serial line between the controller and the power board.

One frame carries one message of :mod:`controller.hal.messages` (or an :class:`Ack`).  Layout,
field scales and limits are documented in ``docs/serial-protocol.md``; this module is the only
place that builds or parses them.

Frame::

    A5 3C | LEN | LEN^FF | TYPE | SEQ | FLAGS | PAYLOAD (LEN bytes) | CRC16 (big endian)

The CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over LEN..PAYLOAD.  Numbers are big
endian; real-valued fields travel as fixed-point integers (so a value is rounded to the field's
resolution); strings are UTF-8 with a one-byte length prefix.

:class:`FrameDecoder` never raises: it resynchronises on the next start marker after garbage or a
damaged frame and counts what it dropped.
"""

from __future__ import annotations

import binascii
import dataclasses
import math
import struct
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Union

from controller.hal.messages import (
    BoardCommand,
    BoardEvent,
    BoardHello,
    GroundFaultTrip,
    GroundMonitor,
    Keepalive,
    RequestStatus,
    LedPattern,
    MeterReading,
    PilotChanged,
    PilotState,
    PowerEvent,
    PowerNotice,
    RelayWelded,
    SetContactor,
    SetDisplay,
    SetLed,
    SetPwm,
    ShortCircuit,
    TagPresented,
    WatchdogTripped,
)

START = b"\xa5\x3c"
HEADER_SIZE = 7  # start(2) len(1) ~len(1) type(1) seq(1) flags(1)
CRC_SIZE = 2
MAX_PAYLOAD = 255
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
FLAG_SYN = 0x01  # first frames of a sender since it started: resets the peer's duplicate filter


class ProtocolError(ValueError):
    """A message cannot be put on the wire, or a payload does not decode."""


@dataclass(frozen=True)
class Ack:
    """Acknowledges the frame whose sequence number this frame carries."""


Message = Union[BoardEvent, BoardCommand, Ack]


@dataclass(frozen=True)
class Frame:
    """A frame that decoded cleanly."""

    seq: int
    message: Message
    syn: bool = False


@dataclass(frozen=True)
class RejectedFrame:
    """A frame with a good CRC whose type is unknown or whose payload is malformed.

    It is still acknowledged (sending the same bytes again cannot help) but never delivered.
    """

    seq: int
    type_code: int
    reason: str
    syn: bool = False
    unknown_type: bool = False


DecodeResult = Union[Frame, RejectedFrame]


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (check value 0x29B1 for b"123456789")."""
    return binascii.crc_hqx(data, 0xFFFF)


# ----- field codecs ---------------------------------------------------------------------


class _Codec(Protocol):
    def encode(self, where: str, value: object) -> bytes: ...

    def decode(self, where: str, data: bytes, offset: int) -> tuple[object, int]: ...


def _need(where: str, data: bytes, offset: int, size: int) -> None:
    if offset + size > len(data):
        raise ProtocolError(f"{where}: payload ends after {len(data) - offset} of {size} bytes")


@dataclass(frozen=True)
class _Fixed:
    """A real number carried as an integer count of ``1/scale`` units."""

    fmt: str  # struct code of the integer: B H h I i Q
    scale: int
    unit: str

    @property
    def _limits(self) -> tuple[int, int]:
        bits = struct.calcsize(self.fmt) * 8
        if self.fmt.islower():
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1

    def encode(self, where: str, value: object) -> bytes:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ProtocolError(f"{where} must be finite, got {value!r}")
        raw = round(value * self.scale)
        low, high = self._limits
        if not low <= raw <= high:
            raise ProtocolError(
                f"{where}={value!r} outside {low / self.scale}..{high / self.scale} {self.unit}"
            )
        return struct.pack(">" + self.fmt, raw)

    def decode(self, where: str, data: bytes, offset: int) -> tuple[object, int]:
        size = struct.calcsize(self.fmt)
        _need(where, data, offset, size)
        (raw,) = struct.unpack_from(">" + self.fmt, data, offset)
        value: float | int = raw if self.scale == 1 else raw / self.scale
        return value, offset + size


@dataclass(frozen=True)
class _Count:
    """A non-negative integer (e.g. the Wh register)."""

    fmt: str

    def encode(self, where: str, value: object) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(f"{where} must be an int, got {value!r}")
        high = (1 << (struct.calcsize(self.fmt) * 8)) - 1
        if not 0 <= value <= high:
            raise ProtocolError(f"{where}={value} outside 0..{high}")
        return struct.pack(">" + self.fmt, value)

    def decode(self, where: str, data: bytes, offset: int) -> tuple[object, int]:
        size = struct.calcsize(self.fmt)
        _need(where, data, offset, size)
        (raw,) = struct.unpack_from(">" + self.fmt, data, offset)
        return int(raw), offset + size


class _Bool:
    def encode(self, where: str, value: object) -> bytes:
        if not isinstance(value, bool):
            raise ProtocolError(f"{where} must be a bool, got {value!r}")
        return b"\x01" if value else b"\x00"

    def decode(self, where: str, data: bytes, offset: int) -> tuple[object, int]:
        _need(where, data, offset, 1)
        raw = data[offset]
        if raw > 1:
            raise ProtocolError(f"{where}: boolean byte must be 0 or 1, got {raw}")
        return raw == 1, offset + 1


@dataclass(frozen=True)
class _Text:
    max_bytes: int

    def encode(self, where: str, value: object) -> bytes:
        if not isinstance(value, str):
            raise ProtocolError(f"{where} must be a str, got {value!r}")
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ProtocolError(f"{where} is not encodable as UTF-8: {exc}") from None
        if len(raw) > self.max_bytes:
            raise ProtocolError(f"{where} is {len(raw)} UTF-8 bytes; at most {self.max_bytes}")
        return bytes([len(raw)]) + raw

    def decode(self, where: str, data: bytes, offset: int) -> tuple[object, int]:
        _need(where, data, offset, 1)
        size = data[offset]
        if size > self.max_bytes:
            raise ProtocolError(f"{where}: length {size} over the limit of {self.max_bytes}")
        _need(where, data, offset + 1, size)
        try:
            text = bytes(data[offset + 1 : offset + 1 + size]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"{where}: invalid UTF-8 ({exc.reason})") from None
        return text, offset + 1 + size


class _Code:
    """An enum member carried as a one-byte code from an explicit table."""

    def __init__(self, table: dict[Any, int]) -> None:
        self._to_code = dict(table)
        self._from_code = {code: member for member, code in table.items()}

    def encode(self, where: str, value: object) -> bytes:
        if value not in self._to_code:
            raise ProtocolError(f"{where}: {value!r} has no wire code")
        return bytes([self._to_code[value]])

    def decode(self, where: str, data: bytes, offset: int) -> tuple[object, int]:
        _need(where, data, offset, 1)
        code = data[offset]
        if code not in self._from_code:
            raise ProtocolError(f"{where}: unknown code {code}")
        return self._from_code[code], offset + 1


_PILOT = _Code({PilotState.A: 1, PilotState.B: 2, PilotState.C: 3, PilotState.D: 4,
                PilotState.E: 5, PilotState.F: 6})
_LED = _Code({
    LedPattern.OFF: 0,
    LedPattern.GREEN_STEADY: 1,
    LedPattern.GREEN_FAST: 2,
    LedPattern.GREEN_SLOW: 3,
    LedPattern.BLUE_SLOW: 4,
    LedPattern.RED_STEADY: 5,
    LedPattern.RED_FLASH: 6,
    LedPattern.PINK_STEADY: 7,
    LedPattern.YELLOW_STEADY: 8,
    LedPattern.YELLOW_FLASH: 9,
})
_POWER = _Code({PowerEvent.POWER_FAIL: 1, PowerEvent.BROWN_OUT: 2})


@dataclass(frozen=True)
class _Layout:
    code: int
    cls: type[Any]
    fields: tuple[tuple[str, _Codec], ...]


ACK_TYPE = 0x01

_LAYOUTS: tuple[_Layout, ...] = (
    _Layout(ACK_TYPE, Ack, ()),
    # board -> controller
    _Layout(0x10, BoardHello, (
        ("dip_sw1", _Bool()), ("dip_sw2", _Bool()), ("dip_sw3", _Bool()),
        ("board_fw", _Text(32)), ("boot_reason", _Text(32)),
    )),
    _Layout(0x11, PilotChanged, (("state", _PILOT),)),
    _Layout(0x12, MeterReading, (
        ("voltage_v", _Fixed("H", 10, "V")),
        ("current_a", _Fixed("i", 1000, "A")),
        ("energy_wh", _Count("Q")),
        ("temperature_c", _Fixed("h", 10, "°C")),
    )),
    _Layout(0x13, GroundFaultTrip, (("leakage_ma", _Fixed("H", 10, "mA")),)),
    _Layout(0x14, GroundMonitor, (("present", _Bool()),)),
    _Layout(0x15, RelayWelded, (("welded", _Bool()),)),
    _Layout(0x16, ShortCircuit, ()),
    _Layout(0x17, PowerNotice, (("event", _POWER),)),
    _Layout(0x18, WatchdogTripped, ()),
    _Layout(0x19, TagPresented, (("uid", _Text(64)),)),
    # controller -> board
    _Layout(0x20, SetPwm, (("duty_pct", _Fixed("H", 100, "%")),)),
    _Layout(0x21, SetContactor, (("closed", _Bool()),)),
    _Layout(0x22, SetLed, (("pattern", _LED),)),
    _Layout(0x23, SetDisplay, (("text", _Text(200)),)),
    _Layout(0x24, Keepalive, ()),
    _Layout(0x25, RequestStatus, ()),
)

_BY_CLASS: dict[type[Any], _Layout] = {layout.cls: layout for layout in _LAYOUTS}
_BY_CODE: dict[int, _Layout] = {layout.code: layout for layout in _LAYOUTS}


def _check_layouts() -> None:
    """The wire layouts must name exactly the dataclass fields of messages.py."""
    for layout in _LAYOUTS:
        declared = tuple(f.name for f in dataclasses.fields(layout.cls))
        wired = tuple(name for name, _ in layout.fields)
        if declared != wired:
            raise RuntimeError(f"{layout.cls.__name__}: wire fields {wired} != {declared}")


_check_layouts()


def type_code(message_type: type[Any]) -> int:
    """Wire type code of a message class."""
    try:
        return _BY_CLASS[message_type].code
    except KeyError:
        raise ProtocolError(f"{message_type.__name__} is not a board message") from None


def encode_payload(message: Message) -> bytes:
    layout = _BY_CLASS.get(type(message))
    if layout is None:
        raise ProtocolError(f"cannot encode {type(message).__name__}: not a board message")
    name = layout.cls.__name__
    parts = [codec.encode(f"{name}.{field}", getattr(message, field))
             for field, codec in layout.fields]
    payload = b"".join(parts)
    if len(payload) > MAX_PAYLOAD:  # pragma: no cover - field limits keep payloads short
        raise ProtocolError(f"{name} payload is {len(payload)} bytes; at most {MAX_PAYLOAD}")
    return payload


def decode_payload(code: int, payload: bytes) -> Message:
    """Build the message of type ``code``; raises :class:`ProtocolError` on any defect."""
    layout = _BY_CODE.get(code)
    if layout is None:
        raise ProtocolError(f"unknown frame type 0x{code:02x}")
    name = layout.cls.__name__
    values: dict[str, object] = {}
    offset = 0
    for field, codec in layout.fields:
        values[field], offset = codec.decode(f"{name}.{field}", payload, offset)
    if offset != len(payload):
        raise ProtocolError(f"{name}: {len(payload) - offset} trailing payload bytes")
    factory: Callable[..., Message] = layout.cls
    try:
        return factory(**values)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{name}: {exc}") from None


def encode_frame(seq: int, message: Message, syn: bool = False) -> bytes:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 255:
        raise ProtocolError(f"seq must be an int 0..255, got {seq!r}")
    payload = encode_payload(message)
    code = _BY_CLASS[type(message)].code
    body = bytes([len(payload), len(payload) ^ 0xFF, code, seq, FLAG_SYN if syn else 0])
    body += payload
    return START + body + struct.pack(">H", crc16(body))


@dataclass
class DecoderStats:
    frames: int = 0  # decoded and returned as Frame
    corrupt: int = 0  # bad length check or bad CRC
    malformed: int = 0  # good CRC, payload does not decode
    unknown_type: int = 0  # good CRC, type code not in the table
    garbage_bytes: int = 0  # bytes skipped while looking for a start marker


class FrameDecoder:
    """Streaming decoder: feed any bytes, get back whole frames; never raises."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[DecodeResult]:
        self._buf += data
        results: list[DecodeResult] = []
        pos = 0
        buf = self._buf
        while True:
            start = buf.find(START, pos)
            if start < 0:
                # keep a trailing first start byte: its partner may be in the next chunk
                keep = 1 if pos < len(buf) and buf[-1] == START[0] else 0
                self.stats.garbage_bytes += len(buf) - pos - keep
                pos = len(buf) - keep
                break
            self.stats.garbage_bytes += start - pos
            pos = start
            if len(buf) - pos < HEADER_SIZE:
                break
            length, check = buf[pos + 2], buf[pos + 3]
            if length ^ 0xFF != check:
                self.stats.corrupt += 1
                pos += 1  # resync: look for the next marker after this one
                continue
            end = pos + HEADER_SIZE + length + CRC_SIZE
            if len(buf) < end:
                break
            body = bytes(buf[pos + 2 : end - CRC_SIZE])
            (crc,) = struct.unpack_from(">H", buf, end - CRC_SIZE)
            if crc != crc16(body):
                self.stats.corrupt += 1
                pos += 1
                continue
            pos = end
            results.append(self._decode_body(body))
        del buf[:pos]
        return results

    def _decode_body(self, body: bytes) -> DecodeResult:
        code, seq, flags = body[2], body[3], body[4]
        syn = bool(flags & FLAG_SYN)
        if code not in _BY_CODE:
            self.stats.unknown_type += 1
            return RejectedFrame(seq, code, f"unknown frame type 0x{code:02x}", syn, True)
        try:
            message = decode_payload(code, body[5:])
        except ProtocolError as exc:
            self.stats.malformed += 1
            return RejectedFrame(seq, code, str(exc), syn)
        self.stats.frames += 1
        return Frame(seq, message, syn)
