"""Reliable, ordered delivery of board messages over an unreliable byte stream.

Used by both ends of the serial line (the controller's :class:`SerialBoardLink` and the twin's
pty board), so both speak exactly the same rules:

* stop-and-wait: one data frame in flight; the next one leaves when it is acknowledged, which
  keeps commands in order (a lost ``SetContactor(False)`` must never overtake a later ``True``);
* every frame with a good CRC is acknowledged at once (ACKs themselves are not);
* an unacknowledged frame is written again after ``ack_timeout_s``, at most ``max_retries``
  times, then given up and reported as a link error;
* a frame equal to the last one received (same sequence number, SYN flag and content) is a
  retransmission whose ACK was lost: acknowledged again, not delivered twice;
* optionally a keepalive message is queued when nothing was written for ``keepalive_idle_s``.

All timers run on the injected :class:`~controller.clock.Clock`.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, fields
from typing import Callable

from controller.clock import Clock, TimerHandle
from controller.hal.protocol import (
    Ack,
    Frame,
    FrameDecoder,
    Message,
    ProtocolError,
    RejectedFrame,
    encode_frame,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkConfig:
    ack_timeout_s: float = 0.2
    max_retries: int = 3
    keepalive_idle_s: float = 0.5  # only used when the link was given a keepalive message
    max_queue: int = 256  # data frames waiting behind the one in flight

    def __post_init__(self) -> None:
        for name in ("ack_timeout_s", "keepalive_idle_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"LinkConfig.{name} must be a positive number, got {value!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"LinkConfig.max_retries must be an int >= 0, got {self.max_retries!r}")
        if not isinstance(self.max_queue, int) or self.max_queue < 1:
            raise ValueError(f"LinkConfig.max_queue must be an int >= 1, got {self.max_queue!r}")


@dataclass
class LinkCounters:
    frames_in: int = 0  # frames with a good CRC (data, ACKs, duplicates, rejected)
    frames_out: int = 0  # frames written (data, ACKs, retransmissions)
    delivered: int = 0  # messages handed to the consumer
    corrupt: int = 0  # bad length check or bad CRC
    malformed: int = 0  # good CRC, payload does not decode
    unknown: int = 0  # good CRC, unknown type or a type this end does not accept
    duplicates: int = 0  # retransmissions dropped by the duplicate filter
    garbage_bytes: int = 0  # bytes skipped between frames
    retries: int = 0  # retransmissions written
    link_errors: int = 0  # frames given up after all retries, or refused on a full queue
    handler_errors: int = 0  # exceptions raised by the consumer's callback

    def __add__(self, other: LinkCounters) -> LinkCounters:
        return LinkCounters(**{
            f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)
        })


@dataclass(frozen=True)
class LinkError:
    reason: str
    message: Message | None = None


@dataclass
class _Outgoing:
    message: Message
    seq: int = 0
    attempts: int = 0
    syn: bool = False


class FrameLink:
    """The link protocol engine; the owner moves bytes in (:meth:`receive`) and out (``write``)."""

    def __init__(
        self,
        clock: Clock,
        write: Callable[[bytes], None],
        deliver: Callable[[Message], None],
        *,
        accepts: tuple[type, ...],
        config: LinkConfig | None = None,
        on_link_error: Callable[[LinkError], None] | None = None,
        on_peer_activity: Callable[[], None] | None = None,
        keepalive: Callable[[], Message] | None = None,
        outgoing_filter: Callable[[Frame], bool] | None = None,
        on_drained: Callable[[], None] | None = None,
    ) -> None:
        self._clock = clock
        self._write = write
        self._deliver = deliver
        self._accepts = accepts
        self.config = config or LinkConfig()
        self._on_link_error = on_link_error
        self._on_peer_activity = on_peer_activity
        self._keepalive = keepalive
        # lets the twin simulate a lossy line; returning False drops the frame unwritten
        self.outgoing_filter = outgoing_filter
        self.on_drained = on_drained  # everything sent has been acknowledged (or given up)
        self._decoder = FrameDecoder()
        self._counters = LinkCounters()
        self._queue: deque[_Outgoing] = deque()
        self._in_flight: _Outgoing | None = None
        self._next_seq = 0
        self._syn = True  # until the peer acknowledged our first frame
        self._last_received: Frame | None = None
        self._retry_timer: TimerHandle | None = None
        self._keepalive_timer: TimerHandle | None = None
        self._last_write = clock.now()
        self._closed = False
        self._started = False

    # ----- public ----------------------------------------------------------------------

    def start(self) -> None:
        """Begin keepalives (if configured); sending and receiving work without it."""
        self._started = True
        self._last_write = self._clock.now()
        self._arm_keepalive()

    def send(self, message: Message) -> None:
        if self._closed:
            raise RuntimeError("link is closed; cannot send " + type(message).__name__)
        if isinstance(message, Ack):
            raise ProtocolError("ACKs are sent by the link itself, not queued")
        encode_frame(0, message)  # a message that cannot be encoded fails here, not later
        if len(self._queue) >= self.config.max_queue:
            self._link_error(LinkError(f"send queue full ({self.config.max_queue})", message))
            return
        self._queue.append(_Outgoing(message))
        self._pump()

    def receive(self, data: bytes) -> None:
        """Bytes read from the line, in any chunking."""
        if self._closed:
            return
        for result in self._decoder.feed(data):
            if self._closed:
                return
            self._counters.frames_in += 1
            if self._on_peer_activity is not None:
                self._on_peer_activity()
            if isinstance(result, RejectedFrame):
                self._write_frame(Frame(result.seq, Ack()))
                continue
            if isinstance(result.message, Ack):
                self._on_ack(result.seq)
                continue
            self._write_frame(Frame(result.seq, Ack()))
            if result == self._last_received:
                self._counters.duplicates += 1
                continue
            self._last_received = result
            if not isinstance(result.message, self._accepts):
                self._counters.unknown += 1
                continue
            self._counters.delivered += 1
            try:
                self._deliver(result.message)
            except Exception:  # noqa: BLE001 - a consumer bug must not kill the line
                self._counters.handler_errors += 1
                log.exception("handler failed on %r", result.message)

    def close(self) -> None:
        self._closed = True
        for timer in (self._retry_timer, self._keepalive_timer):
            if timer is not None:
                timer.cancel()
        self._retry_timer = self._keepalive_timer = None
        self._queue.clear()
        self._in_flight = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Data frames not yet acknowledged (in flight + queued)."""
        return len(self._queue) + (1 if self._in_flight is not None else 0)

    @property
    def counters(self) -> LinkCounters:
        stats = self._decoder.stats
        c = self._counters
        return LinkCounters(
            frames_in=c.frames_in,
            frames_out=c.frames_out,
            delivered=c.delivered,
            corrupt=stats.corrupt,
            malformed=stats.malformed,
            unknown=stats.unknown_type + c.unknown,
            duplicates=c.duplicates,
            garbage_bytes=stats.garbage_bytes,
            retries=c.retries,
            link_errors=c.link_errors,
            handler_errors=c.handler_errors,
        )

    # ----- sending ---------------------------------------------------------------------

    def _pump(self) -> None:
        if self._in_flight is not None or self._closed:
            return
        if not self._queue:
            if self.on_drained is not None:
                self.on_drained()
            return
        out = self._queue.popleft()
        out.seq = self._next_seq
        out.syn = self._syn
        self._next_seq = (self._next_seq + 1) % 256
        self._in_flight = out
        self._transmit(out)

    def _transmit(self, out: _Outgoing) -> None:
        out.attempts += 1
        self._write_frame(Frame(out.seq, out.message, out.syn))
        self._retry_timer = self._clock.call_later(self.config.ack_timeout_s, self._on_ack_timeout)

    def _on_ack_timeout(self) -> None:
        self._retry_timer = None
        out = self._in_flight
        if out is None or self._closed:
            return
        if out.attempts <= self.config.max_retries:
            self._counters.retries += 1
            self._transmit(out)
            return
        self._in_flight = None
        self._link_error(
            LinkError(f"no ACK for seq {out.seq} after {out.attempts} attempts", out.message)
        )
        self._pump()

    def _on_ack(self, seq: int) -> None:
        out = self._in_flight
        if out is None or out.seq != seq:
            return  # stale or duplicate ACK
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None
        self._in_flight = None
        self._syn = False
        self._pump()

    def _write_frame(self, frame: Frame) -> None:
        if self.outgoing_filter is not None and not self.outgoing_filter(frame):
            return
        data = encode_frame(frame.seq, frame.message, frame.syn)
        self._counters.frames_out += 1
        self._last_write = self._clock.now()
        self._write(data)

    def _link_error(self, error: LinkError) -> None:
        self._counters.link_errors += 1
        log.warning("board link error: %s", error.reason)
        if self._on_link_error is not None:
            self._on_link_error(error)

    # ----- keepalive -------------------------------------------------------------------

    def _arm_keepalive(self) -> None:
        if self._keepalive is None or self._closed or not self._started:
            return
        when = self._last_write + self.config.keepalive_idle_s
        if when <= self._clock.now():
            when = self._clock.now() + self.config.keepalive_idle_s
        self._keepalive_timer = self._clock.call_at(when, self._on_keepalive_timer)

    def _on_keepalive_timer(self) -> None:
        self._keepalive_timer = None
        if self._closed or self._keepalive is None:
            return
        idle = self._clock.now() - self._last_write
        if idle >= self.config.keepalive_idle_s - 1e-9 and self.pending == 0:
            self.send(self._keepalive())
        self._arm_keepalive()
