"""The station and the simulated board in one process, without bytes in between.

Commands go straight to the board; events come back through the clock (a zero-delay timer),
as they would arrive from a serial line: never inside the station's own call stack.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.clock import Clock
from controller.hal.messages import BoardCommand, BoardEvent
from twin.physics.board import SimBoard


class StationPort:
    """The BoardPort one station instance holds; cut when that instance "loses power"."""

    def __init__(self, board: SimBoard) -> None:
        self._board: SimBoard | None = board

    def send(self, command: BoardCommand) -> None:
        if self._board is not None:
            self._board.handle(command)

    def cut(self) -> None:
        self._board = None


class InProcessLink:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._target: Callable[[BoardEvent], None] | None = None

    def deliver(self, event: BoardEvent) -> None:
        """The board's ``emit``: hand the event to the attached station on the next tick."""
        target = self._target
        if target is not None:
            self._clock.call_later(0.0, lambda: self._forward(target, event))

    def _forward(self, target: Callable[[BoardEvent], None], event: BoardEvent) -> None:
        if target is self._target:  # not for a station that has gone away meanwhile
            target(event)

    def attach(self, target: Callable[[BoardEvent], None]) -> None:
        self._target = target

    def detach(self) -> None:
        self._target = None
