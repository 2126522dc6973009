"""The serial frame format: round trips, limits, and a decoder that survives any input."""

from __future__ import annotations

import math
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from controller.hal.protocol import (
    MAX_FRAME,
    START,
    Ack,
    Frame,
    FrameDecoder,
    Message,
    ProtocolError,
    RejectedFrame,
    crc16,
    decode_payload,
    encode_frame,
    encode_payload,
    type_code,
)

EXAMPLES: list[Message] = [
    Ack(),
    BoardHello(True, False, True, board_fw="2.1.0-rc1", boot_reason="power_restored"),
    PilotChanged(PilotState.C),
    MeterReading(voltage_v=239.8, current_a=31.875, energy_wh=123_456_789, temperature_c=-12.5),
    GroundFaultTrip(leakage_ma=25.0),
    GroundMonitor(present=False),
    RelayWelded(welded=True),
    ShortCircuit(),
    PowerNotice(PowerEvent.BROWN_OUT),
    WatchdogTripped(),
    TagPresented(uid="04A1B2C3D4E5F6"),
    SetPwm(duty_pct=53.33),
    SetContactor(closed=True),
    SetLed(LedPattern.BLUE_SLOW),
    SetDisplay(text="Charging 7.7 kW — 32 A"),
    Keepalive(),
    RequestStatus(),
]


def test_crc_is_ccitt_false() -> None:
    assert crc16(b"123456789") == 0x29B1


def test_every_message_type_has_a_distinct_wire_type() -> None:
    classes = [*get_args(BoardEvent), *get_args(BoardCommand), Ack]
    codes = [type_code(cls) for cls in classes]
    assert len(set(codes)) == len(classes)
    assert {type(m) for m in EXAMPLES} == set(classes)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_every_message(message: Message) -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(encode_frame(200, message, syn=True))
    assert frames == [Frame(200, message, syn=True)]
    assert decoder.stats.frames == 1
    assert decoder.stats.corrupt == decoder.stats.garbage_bytes == 0


def _grid(fmt_max: int, scale: int, signed: bool = False) -> st.SearchStrategy[float]:
    low = -fmt_max - 1 if signed else 0
    return st.integers(low, fmt_max).map(lambda raw: raw / scale)


_text32 = st.text(max_size=10)
messages: st.SearchStrategy[Message] = st.one_of(
    st.just(Ack()),
    st.builds(BoardHello, st.booleans(), st.booleans(), st.booleans(), _text32, _text32),
    st.builds(PilotChanged, st.sampled_from(PilotState)),
    st.builds(
        MeterReading,
        _grid(65535, 10),
        _grid(2**31 - 1, 1000, signed=True),
        st.integers(0, 2**64 - 1),
        _grid(32767, 10, signed=True),
    ),
    st.builds(GroundFaultTrip, _grid(65535, 10)),
    st.builds(GroundMonitor, st.booleans()),
    st.builds(RelayWelded, st.booleans()),
    st.just(ShortCircuit()),
    st.builds(PowerNotice, st.sampled_from(PowerEvent)),
    st.just(WatchdogTripped()),
    st.builds(TagPresented, st.text(min_size=1, max_size=16)),
    st.builds(SetPwm, _grid(10000, 100)),
    st.builds(SetContactor, st.booleans()),
    st.builds(SetLed, st.sampled_from(LedPattern)),
    st.builds(SetDisplay, st.text(max_size=50)),
    st.just(Keepalive()),
)


@given(message=messages, seq=st.integers(0, 255), syn=st.booleans())
def test_round_trip_any_value_on_the_fixed_point_grid(message: Message, seq: int, syn: bool) -> None:
    assert FrameDecoder().feed(encode_frame(seq, message, syn)) == [Frame(seq, message, syn)]


@given(stream=st.lists(messages, min_size=1, max_size=8), cuts=st.lists(st.integers(0, 400)))
def test_any_chunking_of_a_stream_gives_the_same_frames(stream: list[Message], cuts: list[int]) -> None:
    data = b"".join(encode_frame(i, m) for i, m in enumerate(stream))
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    decoder = FrameDecoder()
    out = []
    for a, b in zip(points, points[1:], strict=False):
        out += decoder.feed(data[a:b])
    assert out == [Frame(i, m) for i, m in enumerate(stream)]


def test_fixed_point_rounds_to_the_field_resolution() -> None:
    frame = FrameDecoder().feed(encode_frame(1, MeterReading(240.04, 1.0004, 5, 20.06)))
    assert frame == [Frame(1, MeterReading(240.0, 1.0, 5, 20.1))]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (SetPwm(duty_pct=700.0), "SetPwm.duty_pct"),
        (SetPwm(duty_pct=-1.0), "SetPwm.duty_pct"),
        (SetPwm(duty_pct=math.nan), "SetPwm.duty_pct"),
        (MeterReading(voltage_v=240.0, current_a=1.0, energy_wh=-1, temperature_c=20.0),
         "MeterReading.energy_wh"),
        (SetDisplay(text="x" * 201), "SetDisplay.text"),
        (TagPresented(uid="\udcff"), "TagPresented.uid"),
        (SetContactor(closed=1), "SetContactor.closed"),  # type: ignore[arg-type]
        (SetLed(pattern="purple"), "SetLed.pattern"),  # type: ignore[arg-type]
    ],
)
def test_encoding_a_bad_value_names_the_field(message: Message, field: str) -> None:
    with pytest.raises(ProtocolError, match=field.replace(".", r"\.")):
        encode_frame(0, message)


def test_encoding_rejects_bad_seq_and_foreign_objects() -> None:
    with pytest.raises(ProtocolError, match="seq"):
        encode_frame(256, Keepalive())
    with pytest.raises(ProtocolError, match="not a board message"):
        encode_payload("hello")  # type: ignore[arg-type]


def _raw_frame(code: int, payload: bytes, seq: int = 7) -> bytes:
    body = bytes([len(payload), len(payload) ^ 0xFF, code, seq, 0]) + payload
    return START + body + crc16(body).to_bytes(2, "big")


def test_unknown_type_and_malformed_payload_are_counted_and_not_delivered() -> None:
    decoder = FrameDecoder()
    out = decoder.feed(
        _raw_frame(0x7E, b"\x01\x02")
        + _raw_frame(type_code(GroundMonitor), b"\x02")  # boolean byte must be 0/1
        + _raw_frame(type_code(PilotChanged), b"\x03\x00")  # trailing byte
        + _raw_frame(type_code(SetDisplay), b"\x02\xff\xfe")  # invalid UTF-8
        + encode_frame(9, Keepalive())
    )
    assert [type(r) for r in out] == [RejectedFrame] * 4 + [Frame]
    assert isinstance(out[0], RejectedFrame) and out[0].unknown_type and out[0].seq == 7
    assert decoder.stats.unknown_type == 1
    assert decoder.stats.malformed == 3
    assert out[-1] == Frame(9, Keepalive())


def test_decode_payload_error_names_the_field() -> None:
    with pytest.raises(ProtocolError, match=r"MeterReading\.energy_wh"):
        decode_payload(type_code(MeterReading), b"\x00\x01\x00\x00\x00\x01")


def test_garbage_between_frames_is_counted_and_skipped() -> None:
    decoder = FrameDecoder()
    garbage = bytes(range(0, 0xA0))  # no start byte in it
    out = decoder.feed(garbage + encode_frame(1, Keepalive()) + garbage + encode_frame(2, ShortCircuit()))
    assert out == [Frame(1, Keepalive()), Frame(2, ShortCircuit())]
    assert decoder.stats.garbage_bytes == 2 * len(garbage)
    assert decoder.stats.corrupt == 0


def test_bad_length_check_and_bad_crc_are_corrupt_and_resync() -> None:
    decoder = FrameDecoder()
    good = encode_frame(3, SetContactor(closed=False))
    bad_len = bytearray(good)
    bad_len[3] ^= 0x10  # ~LEN no longer matches
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 0x01
    out = decoder.feed(bytes(bad_len) + bytes(bad_crc) + good)
    assert out == [Frame(3, SetContactor(closed=False))]
    assert decoder.stats.corrupt == 2


def test_truncated_frame_does_not_swallow_the_next_one() -> None:
    decoder = FrameDecoder()
    whole = encode_frame(4, TagPresented(uid="ABCDEF"))
    out = decoder.feed(whole[:9] + encode_frame(5, Keepalive()) + bytes(MAX_FRAME))
    assert out == [Frame(5, Keepalive())]
    assert decoder.stats.corrupt >= 1


def test_start_marker_split_across_chunks() -> None:
    decoder = FrameDecoder()
    frame = encode_frame(6, Keepalive())
    assert decoder.feed(b"\x00\x00" + frame[:1]) == []
    assert decoder.feed(frame[1:]) == [Frame(6, Keepalive())]
    assert decoder.stats.garbage_bytes == 2


@settings(max_examples=300)
@given(chunks=st.lists(st.binary(max_size=300), max_size=20))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    decoder = FrameDecoder()
    for chunk in chunks:
        for result in decoder.feed(chunk):
            assert isinstance(result, (Frame, RejectedFrame))
    # nothing is lost track of: the buffer never grows past one frame
    assert len(decoder._buf) < MAX_FRAME


@st.composite
def _corruption(draw: Any, size: int) -> tuple[str, int, bytes]:
    kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
    pos = draw(st.integers(0, size - 1))
    data = draw(st.binary(min_size=1, max_size=8))
    return kind, pos, data


def _corrupt(frame: bytes, how: tuple[str, int, bytes]) -> bytes:
    kind, pos, data = how
    if kind == "flip":
        return frame[:pos] + bytes([frame[pos] ^ (data[0] or 1)]) + frame[pos + 1 :]
    if kind == "insert":
        return frame[:pos] + data + frame[pos:]
    if kind == "delete":
        return frame[:pos] + frame[pos + 1 :]
    return frame[:pos]


@settings(max_examples=300)
@given(data=st.data(), stream=st.lists(messages, min_size=1, max_size=10))
def test_random_corruptions_drop_only_the_damaged_frames(
    data: st.DataObject, stream: list[Message]
) -> None:
    wire = b""
    intact: dict[int, Message] = {}
    for seq, message in enumerate(stream):
        frame = encode_frame(seq, message)
        if data.draw(st.booleans()):
            wire += _corrupt(frame, data.draw(_corruption(len(frame))))
        else:
            wire += frame
            intact[seq] = message
    wire += bytes(MAX_FRAME)  # lets a falsely started frame run out and fail its CRC
    chunk = data.draw(st.integers(1, 64))
    decoder = FrameDecoder()
    out: list[Frame | RejectedFrame] = []
    for i in range(0, len(wire), chunk):
        out += decoder.feed(wire[i : i + chunk])
    frames = [r for r in out if isinstance(r, Frame)]
    assert [f for f in frames if f.seq in intact] == [Frame(s, m) for s, m in intact.items()]
    damaged = len(stream) - len(intact)
    if damaged:
        stats = decoder.stats
        assert stats.corrupt + stats.garbage_bytes + stats.malformed + stats.unknown_type > 0


def test_documented_example_bytes() -> None:
    """docs/serial-protocol.md quotes these frames byte for byte."""
    assert encode_frame(0, SetContactor(closed=True), syn=True).hex(" ").upper() == (
        "A5 3C 01 FE 21 00 01 01 D9 A4"
    )
    assert encode_frame(0, Ack()).hex(" ").upper() == "A5 3C 00 FF 01 00 00 6D 9F"
