"""The charger as a WeMo-style switch for Alexa on the LAN ('Alexa, turn off the car charger').

on = resume charging, off = pause; the state is the homeowner's wish, charging enabled.  The
protocol calls the plugin synchronously on the event loop, so a switch command starts the
twin change as a task and answers at once; the state comes from a :class:`TwinMirror`,
overridden by a command still in flight so an immediate read-back agrees with the command.
"""

from __future__ import annotations

import asyncio
import logging

from fauxmo.plugins import FauxmoPlugin

from voice.charger_view import view_of
from voice.charger_voice import ChargerVoice, VoiceReply
from voice.twin_mirror import TwinMirror

log = logging.getLogger(__name__)

DEFAULT_NAME = "car charger"


class ChargerSwitchPlugin(FauxmoPlugin):  # type: ignore[misc]
    # fauxmo intercepts attribute access to `on`/`off` and *calls* them: never touch those
    # names from inside this class.

    def __init__(self, *, name: str, port: int, voice: ChargerVoice, mirror: TwinMirror) -> None:
        super().__init__(name=name, port=port)
        self._voice = voice
        self._mirror = mirror
        self._in_flight: bool | None = None
        self._tasks: set[asyncio.Task[VoiceReply]] = set()
        self.last_reply: VoiceReply | None = None

    def on(self) -> bool:
        return self._switch(True)

    def off(self) -> bool:
        return self._switch(False)

    def get_state(self) -> str:
        if self._in_flight is not None:
            return "on" if self._in_flight else "off"
        state = self._mirror.state
        if state is None:
            return "unknown"
        view = view_of(state)
        if not view.online:
            return "unknown"  # Alexa then says the device isn't responding, which is true
        return "on" if view.enabled else "off"

    def _switch(self, enabled: bool) -> bool:
        state = self._mirror.state
        if state is None or not view_of(state).online:
            log.warning("fauxmo %s: charger state unknown or offline, refusing", self.name)
            return False
        self._in_flight = enabled
        task = asyncio.get_running_loop().create_task(self._voice.set_enabled(enabled))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return True

    def _finished(self, task: asyncio.Task[VoiceReply]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._in_flight = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("fauxmo %s: switching failed: %s", self.name, exc)
            return
        self.last_reply = task.result()
        log.info("fauxmo %s: %s", self.name, self.last_reply.speech)

    async def drain(self) -> None:
        """Wait for switch commands still in flight (tests and shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
