"""The MQ 200 as an OCPP 1.6J charge point: one handler per message, timers on the clock.

One :class:`OcppChargePoint` lives as long as the daemon; :mod:`controller.ocpp.connection`
attaches a fresh WebSocket to it after every (re)connect and calls :meth:`run_session`.
"""

from __future__ import annotations

import asyncio
import decimal
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.charge_point import remove_nones
from ocpp.exceptions import (
    FormationViolationError,
    NotImplementedError as OcppNotImplementedError,
    OccurenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    TypeConstraintViolationError,
)
from ocpp.messages import (
    Call,
    CallError,
    CallResult,
    MessageType,
    get_validator,
    unpack,
    validate_payload,
)
from ocpp.v16 import ChargePoint
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
from sqlalchemy.engine import Engine
from websockets.exceptions import ConnectionClosed

from controller.clock import Clock, TimerHandle
from controller.ocpp.auth_cache import AuthorizationCache
from controller.ocpp.authorization import Authorizer
from controller.ocpp.charging_profiles import ChargingProfileStore
from controller.ocpp.clock_waits import clock_delay, clock_timeout
from controller.ocpp.config_keys import ConfigurationStore
from controller.ocpp.firmware import FirmwareService
from controller.ocpp.id_tag_info import IdTagInfo, format_ocpp_time, parse_ocpp_time
from controller.ocpp.local_list import ListUpdate, LocalAuthorizationList
from controller.ocpp.ocpp_settings import OcppSettings
from controller.ocpp.routing_typed import after, on
from controller.ocpp.reservations import Reservation, ReservationStore
from controller.ocpp.smart_charging import (
    ProfileError,
    composite_limit,
    composite_schedule,
    next_change,
    schedule_payload,
)
from controller.ocpp.station_port import (
    AuthorizationAnswer,
    ConnectorStatus,
    StationPort,
    StatusReport,
    StopReason,
)
from controller.ocpp.station_state import StationStateStore
from controller.ocpp.transactions import TransactionRecorder
from controller.ocpp.tx_queue import OutgoingMessage, TransactionQueue

LOGGER = logging.getLogger(__name__)

# Configuration keys the charging core itself acts on; changes are forwarded to it.
CORE_KEYS = (
    "ConnectionTimeOut",
    "StopTransactionOnEVSideDisconnect",
    "UnlockConnectorOnEVSideDisconnect",
    "LightIntensity",
    "BlinkRepeat",
    "MQ200HoursOfOperation",
)
_OCPP16_CODES = {"FormatViolation": "FormationViolation",
                 "OccurrenceConstraintViolation": "OccurenceConstraintViolation"}
_NOT_BUSY = (ConnectorStatus.AVAILABLE, ConnectorStatus.RESERVED)


class CallErrorReceived(Exception):
    """The central system answered a CALL with a CALLERROR."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code


@dataclass
class _Connection:
    """What ocpp's ChargePoint needs of a connection (recv/send)."""

    recv: Callable[[], Awaitable[str]]
    send: Callable[[str], Awaitable[None]]


def validate_call_16(msg: Call) -> None:
    """Schema-check an incoming CALL and raise the OCPP 1.6 error code that fits."""
    if not isinstance(msg.payload, dict):
        raise FormationViolationError(details={"cause": "payload must be a JSON object"})
    try:
        validator = get_validator(MessageType.Call, msg.action, "1.6", parse_float=decimal.Decimal)
    except (OSError, ValueError):
        raise OcppNotImplementedError(details={"cause": f"no schema for {msg.action}"}) from None
    payload = json.loads(json.dumps(msg.payload), parse_float=decimal.Decimal)
    error: SchemaValidationError | None = next(iter(validator.iter_errors(payload)), None)
    if error is None:
        return
    cause = {"cause": f"{'/'.join(str(p) for p in error.absolute_path) or 'payload'}: {error.message}"}
    if error.validator == "type":
        raise TypeConstraintViolationError(details=cause)
    if error.validator == "required":
        raise ProtocolError(details=cause)
    if error.validator == "additionalProperties":
        raise FormationViolationError(details=cause)
    if error.validator in ("minItems", "maxItems"):
        raise OccurenceConstraintViolationError(details=cause)
    raise PropertyConstraintViolationError(details=cause)


def _carries_transaction_id(result: Any) -> bool:
    """Whether a StartTransaction.conf payload has what confirming it needs."""
    tx = result.get("transactionId") if isinstance(result, dict) else None
    return (isinstance(tx, int) and not isinstance(tx, bool)
            and isinstance(result.get("idTagInfo"), dict)
            and isinstance(result["idTagInfo"].get("status"), str))


class OcppChargePoint(ChargePoint):  # type: ignore[misc]  # ocpp ships no type hints
    def __init__(
        self,
        settings: OcppSettings,
        clock: Clock,
        station: StationPort,
        engine: Engine,
        firmware: FirmwareService | None = None,
    ) -> None:
        super().__init__(settings.charge_point_id, None, response_timeout=settings.pdu_timeout)
        self.settings = settings
        self.clock = clock
        self.station = station
        self.config = ConfigurationStore(engine)
        self.queue = TransactionQueue(engine)
        self.local_list = LocalAuthorizationList(engine)
        self.cache = AuthorizationCache(engine)
        self.profiles = ChargingProfileStore(
            engine, self.config.get_int("MaxChargingProfilesInstalled")
        )
        self.reservations = ReservationStore(engine)
        self.state = StationStateStore(engine)
        self.authorizer = Authorizer(
            clock, self.config, self.local_list, self.cache, self._ask_central_system,
            lambda: self.accepted,
        )
        self.recorder = TransactionRecorder(
            engine, clock, self.config, self.queue, station.meter, self._wake_sender
        )
        self.firmware = firmware or FirmwareService(settings, clock)
        self.firmware.bind(self)

        self.connected = False
        self.accepted = False  # BootNotification accepted on the current connection
        self.on_connection: list[Callable[[bool], None]] = []  # observers of `accepted` (twin)
        self._queue_wakeup = asyncio.Event()
        self._queue_idle = asyncio.Event()
        # the queued message awaiting its confirmation, and the id of the last one confirmed
        self._in_flight: OutgoingMessage | None = None
        self._confirmed_id: str | None = None
        self._session_tasks: list[asyncio.Task[Any]] = []
        self._heartbeat_timer: TimerHandle | None = None
        self._aligned_timer: TimerHandle | None = None
        self._status_timer: TimerHandle | None = None
        self._limit_timer: TimerHandle | None = None
        self._reservation_timer: TimerHandle | None = None
        self._reported_status: dict[int, StatusReport] = {}
        self._latest_status: StatusReport = station.status()
        self._pending_availability: bool | None = None
        self._invalidated_tx: int | None = None
        self._restart_requested: asyncio.Event = asyncio.Event()
        self.config.on_change(self._config_changed)

        self.recorder.recover_after_restart(station.meter())
        self.station.set_available(self.state.available())
        for key in CORE_KEYS:
            self.station.apply_setting(key, self.config.get(key))
        self._restore_reservation()
        self._apply_limit()
        self._arm_aligned()

    # ------------------------------------------------------------------ connection life

    def attach(self, recv: Callable[[], Awaitable[str]], send: Callable[[str], Awaitable[None]]) -> None:
        self._connection = _Connection(recv, send)
        self._response_queue: asyncio.Queue[Any] = asyncio.Queue()
        self.connected = True
        self.accepted = False

    async def run_session(self) -> None:
        """Read messages and boot; returns when the connection closes (or a reset asks)."""
        self._restart_requested.clear()
        reader = asyncio.ensure_future(self.start())
        boot = asyncio.ensure_future(self._boot())
        restart = asyncio.ensure_future(self._restart_requested.wait())
        self._session_tasks = [reader, boot, restart]
        try:
            await asyncio.wait({reader, restart}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done() and not reader.cancelled():
                exc = reader.exception()
                if exc is not None and not isinstance(exc, ConnectionClosed):
                    LOGGER.error("OCPP reader stopped: %r", exc)
        finally:
            self.detach()

    def detach(self) -> None:
        self.connected = False
        was_accepted, self.accepted = self.accepted, False
        if was_accepted:
            self._tell_connection(False)
        for task in self._session_tasks:
            task.cancel()
        self._session_tasks = []
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        self._reported_status.clear()

    async def route_message(self, raw_msg: str) -> None:
        """Like ocpp's, but a malformed CALL still gets a CallError when it has an id."""
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            unique_id = _call_id_of(raw_msg)
            LOGGER.warning("malformed message %r: %s", raw_msg[:200], error)
            if unique_id is not None:
                code = _OCPP16_CODES.get(error.code, error.code)
                frame = [4, unique_id, code, error.description, error.details or {}]
                await self._send(json.dumps(frame))
            return
        if isinstance(msg, Call):
            try:
                if msg.action in self.route_map:
                    validate_call_16(msg)
                await self._handle_call(msg)
            except OCPPError as error:
                call_error = msg.create_call_error(error)
                call_error.error_code = _OCPP16_CODES.get(call_error.error_code, call_error.error_code)
                await self._send(call_error.to_json())
        else:
            self._confirm_in_flight(msg)
            self._response_queue.put_nowait(msg)

    async def _get_specific_response(self, unique_id: str, timeout: float) -> Any:
        """Wait for the answer to ``unique_id`` on the injected clock (PDU timeout)."""
        deadline = self.clock.now() + timeout
        while True:
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                raise asyncio.TimeoutError(f"no answer to {unique_id} within {timeout} s")
            try:
                response = await clock_timeout(self.clock, self._response_queue.get(), remaining)
            except TimeoutError:
                raise asyncio.TimeoutError(f"no answer to {unique_id} within {timeout} s") from None
            if response.unique_id == unique_id:
                return response
            LOGGER.warning("ignoring answer to an unknown or late CALL %s", response.unique_id)

    async def send_call(
        self, action: str, payload: dict[str, Any], unique_id: str | None = None
    ) -> dict[str, Any]:
        """Send a CALL (camelCase payload) and return the CALLRESULT payload.

        Raises ConnectionError when offline, TimeoutError after the PDU timeout and
        CallErrorReceived when the central system answers with a CALLERROR.
        """
        if not self.connected:
            raise ConnectionError("not connected to the central system")
        call = Call(
            unique_id=unique_id or str(self._unique_id_generator()),
            action=action,
            payload=remove_nones(payload),
        )
        await validate_payload(call, "1.6")
        async with self._call_lock:
            try:
                await self._send(call.to_json())
            except ConnectionClosed as closed:
                raise ConnectionError(str(closed)) from None
            try:
                response = await self._get_specific_response(call.unique_id, self._response_timeout)
            except asyncio.TimeoutError as timeout:
                raise TimeoutError(str(timeout)) from None
        if isinstance(response, CallError):
            raise CallErrorReceived(response.error_code, response.error_description)
        result: dict[str, Any] = response.payload
        return result

    # ------------------------------------------------------------------ boot & heartbeat

    async def _boot(self) -> None:
        attempts = 0
        while True:
            interval = self.settings.boot_retry_interval
            try:
                result = await self.send_call("BootNotification", self._boot_payload())
            except (TimeoutError, CallErrorReceived) as error:
                LOGGER.warning("BootNotification failed: %s", error)
            else:
                if result["interval"] > 0:
                    interval = float(result["interval"])
                if result["status"] == "Accepted":
                    await self._on_accepted(int(result["interval"]))
                    return
                LOGGER.info("BootNotification %s; retry in %s s", result["status"], interval)
            attempts += 1
            retries = self.settings.boot_retries
            if retries != -1 and attempts > retries:
                LOGGER.error("BootNotification not accepted after %d attempts", attempts)
                self._restart_requested.set()
                return
            await clock_delay(self.clock, interval)

    def _boot_payload(self) -> dict[str, Any]:
        s = self.settings
        return {
            "chargePointVendor": s.vendor,
            "chargePointModel": s.model,
            "chargePointSerialNumber": s.serial_number,
            "firmwareVersion": s.firmware_version,
        }

    def _tell_connection(self, accepted: bool) -> None:
        for observer in list(self.on_connection):
            observer(accepted)

    async def _on_accepted(self, interval: int) -> None:
        self.accepted = True
        self._tell_connection(True)
        if interval > 0 and str(interval) != self.config.get("HeartbeatInterval"):
            self.config.set("HeartbeatInterval", str(interval))
        else:
            self._arm_heartbeat()
        sender = asyncio.ensure_future(self._send_queue())
        self._session_tasks.append(sender)
        await self._send_status(0, self._connector_zero_status())
        await self._send_status(1, self._latest_status)
        self._wake_sender()
        await self.firmware.after_boot()

    def _arm_heartbeat(self) -> None:
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        interval = self.config.get_int("HeartbeatInterval")
        if interval > 0 and self.accepted:
            self._heartbeat_timer = self.clock.call_later(interval, self._heartbeat_due)

    def _heartbeat_due(self) -> None:
        self._heartbeat_timer = None
        self._spawn(self._heartbeat())
        self._arm_heartbeat()

    async def _heartbeat(self) -> None:
        await self._best_effort("Heartbeat", {})

    async def _best_effort(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Messages that are not queued: sent if online, dropped (logged) otherwise."""
        try:
            return await self.send_call(action, payload)
        except (ConnectionError, TimeoutError, CallErrorReceived) as error:
            LOGGER.info("%s not delivered: %s", action, error)
            return None

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._session_tasks.append(task)
        task.add_done_callback(
            lambda t: self._session_tasks.remove(t) if t in self._session_tasks else None
        )

    # ------------------------------------------------------------------ transaction queue

    async def queue_drained(self) -> None:
        """Returns once every queued transaction message has been confirmed (while online)."""
        while self.queue.head() is not None:
            self._queue_idle.clear()
            self._wake_sender()
            await self._queue_idle.wait()

    def _wake_sender(self) -> None:
        self._queue_wakeup.set()

    async def _send_queue(self) -> None:
        """Deliver queued transaction messages in order, one at a time, while accepted."""
        while True:
            message = self.queue.head()
            if message is None:
                self._queue_wakeup.clear()
                self._queue_idle.set()
                await self._queue_wakeup.wait()
                continue
            self._queue_idle.clear()
            self._in_flight = message
            try:
                await self.send_call(message.action, message.payload, message.message_id)
            except ConnectionError:
                return  # offline: the next session resumes with the same message
            except (TimeoutError, CallErrorReceived) as error:
                if self._confirmed_id == message.message_id:
                    continue  # its confirmation was read just as the PDU timeout fired
                attempts = self.config.get_int("TransactionMessageAttempts")
                dropped = self.queue.record_failure(message, attempts)
                LOGGER.warning("%s attempt %d failed (%s)%s", message.action,
                               message.attempts + 1, error, "; dropped" if dropped else "")
                if not dropped:
                    delay = self.config.get_int("TransactionMessageRetryInterval")
                    await clock_delay(self.clock, delay * (message.attempts + 1))
                continue
            finally:
                self._in_flight = None
            if self._confirmed_id != message.message_id:
                # a confirmation without what it must carry (route_message logged it): retry
                attempts = self.config.get_int("TransactionMessageAttempts")
                dropped = self.queue.record_failure(message, attempts)
                LOGGER.warning("%s attempt %d not confirmed (malformed answer)%s", message.action,
                               message.attempts + 1, "; dropped" if dropped else "")
                if not dropped:
                    delay = self.config.get_int("TransactionMessageRetryInterval")
                    await clock_delay(self.clock, delay * (message.attempts + 1))

    def _confirm_in_flight(self, response: Any) -> None:
        """Commit a queued message's confirmation the moment its frame is read, before anything else.

        Until this commit a kill makes the message go again (same message id); committing here
        rather than after the sender has resumed leaves only the read of the frame and the
        commit itself in that window (docs/ocpp.md §Transactions and the message queue).
        """
        message = self._in_flight
        if (message is None or not isinstance(response, CallResult)
                or response.unique_id != message.message_id):
            return
        result = response.payload
        if message.action == "StartTransaction" and not _carries_transaction_id(result):
            LOGGER.error("StartTransaction.conf without a usable transactionId/idTagInfo: %r",
                         result)
            return
        self.queue.confirm(message, result)
        self._confirmed_id = message.message_id
        self._in_flight = None
        if message.action == "StartTransaction":
            try:
                self._start_confirmed(message, result)
            except ValueError as error:  # e.g. a bad idTagInfo; the transaction id is kept
                LOGGER.error("StartTransaction.conf idTagInfo not usable: %s", error)

    def _start_confirmed(self, message: OutgoingMessage, result: dict[str, Any]) -> None:
        info = IdTagInfo.from_ocpp(result["idTagInfo"])
        id_tag = str(message.payload["idTag"])
        self.authorizer.remember(id_tag, info)
        active = self.recorder.active()
        if info.status == "Accepted" or active is None or active.local_tx_id != message.local_tx_id:
            return
        self._invalidated_tx = active.local_tx_id
        delivered = self.station.meter().energy_wh - active.meter_start
        if delivered >= self.config.get_int("MaxEnergyOnInvalidId"):
            self._invalid_id_enforce()
        else:
            self._watch_max_energy(active.meter_start)

    def _watch_max_energy(self, meter_start: float) -> None:
        """Re-check when MaxEnergyOnInvalidId would be reached at the present power."""
        active = self.recorder.active()
        if active is None or active.local_tx_id != self._invalidated_tx:
            return
        meter = self.station.meter()
        remaining = self.config.get_int("MaxEnergyOnInvalidId") - (meter.energy_wh - meter_start)
        if remaining <= 0:
            self._invalid_id_enforce()
            return
        watts = max(meter.current_a * meter.voltage_v, 1.0)
        delay = max(1.0, remaining / watts * 3600.0)
        self.clock.call_later(delay, lambda: self._watch_max_energy(meter_start))

    def _invalid_id_enforce(self) -> None:
        if self.config.get_bool("StopTransactionOnInvalidId"):
            self.station.stop_session(StopReason.DE_AUTHORIZED)
        else:
            self.station.set_limit("ocpp-invalid-id", 0.0, "idTag invalidated by central system")

    # ------------------------------------------------------------------ status

    def _connector_zero_status(self) -> StatusReport:
        if not self.state.available():
            return StatusReport(ConnectorStatus.UNAVAILABLE)
        if self._latest_status.status is ConnectorStatus.FAULTED:
            return StatusReport(ConnectorStatus.FAULTED, self._latest_status.error_code)
        return StatusReport(ConnectorStatus.AVAILABLE)

    async def _send_status(self, connector: int, report: StatusReport) -> None:
        if not self.accepted:
            return
        payload: dict[str, Any] = {
            "connectorId": connector,
            "errorCode": report.error_code,
            "status": report.status.value,
            "timestamp": format_ocpp_time(self.clock.now()),
            "info": report.info,
            "vendorErrorCode": report.vendor_error_code,
        }
        self._reported_status[connector] = report
        await self._best_effort("StatusNotification", payload)

    def _status_settled(self) -> None:
        self._status_timer = None
        report = self._latest_status
        if self._reported_status.get(1) != report:
            self._spawn(self._send_status(1, report))
        zero = self._connector_zero_status()
        if self._reported_status.get(0) != zero:
            self._spawn(self._send_status(0, zero))

    # ------------------------------------------------------------------ StationEvents

    def status_changed(self, report: StatusReport) -> None:
        self._latest_status = report
        if self._status_timer is not None:
            self._status_timer.cancel()
            self._status_timer = None
        minimum = self.config.get_int("MinimumStatusDuration")
        if minimum == 0 or report.status is ConnectorStatus.FAULTED:
            self._status_settled()
        else:
            self._status_timer = self.clock.call_later(minimum, self._status_settled)

    def session_started(self, id_tag: str, meter_start_wh: float, timestamp: float) -> None:
        reservation = self.reservations.current()
        reservation_id = None
        if reservation is not None:
            reservation_id = reservation.reservation_id
            self._end_reservation()
        self.recorder.begin(id_tag, meter_start_wh, timestamp, reservation_id)
        self._apply_limit()

    def session_stopped(self, reason: StopReason, meter_stop_wh: float, timestamp: float) -> None:
        active = self.recorder.active()
        id_tag = active.id_tag if active is not None and reason is StopReason.LOCAL else None
        self.recorder.end(reason, meter_stop_wh, timestamp, id_tag)
        self._invalidated_tx = None
        self.station.set_limit("ocpp-invalid-id", None, "transaction ended")
        self.profiles.clear_transaction_profiles()
        self._apply_limit()
        if self._pending_availability is not None:
            self._set_availability(self._pending_availability)
            self._pending_availability = None

    def tag_needs_authorization(self, id_tag: str) -> None:
        self._spawn_detached(self._authorize_for_core(id_tag))

    def _spawn_detached(self, coro: Awaitable[Any]) -> None:
        """Work that must outlive the connection (authorization may go offline midway)."""
        task = asyncio.ensure_future(coro)
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _authorize_for_core(self, id_tag: str) -> None:
        answer = await self.authorizer.authorize(id_tag)
        reservation = self.reservations.current()
        if answer.accepted and reservation is not None and not reservation.admits(
            id_tag, answer.parent_id_tag
        ):
            answer = AuthorizationAnswer(id_tag, False, "Invalid", answer.parent_id_tag, answer.source)
        self.station.deliver_authorization(answer)

    async def _ask_central_system(self, id_tag: str) -> IdTagInfo:
        try:
            result = await self.send_call("Authorize", {"idTag": id_tag})
        except CallErrorReceived as error:
            raise ConnectionError(str(error)) from None
        return IdTagInfo.from_ocpp(result["idTagInfo"])

    # ------------------------------------------------------------------ Core profile

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        return call_result.ChangeConfiguration(status=self.config.change(key, value).value)

    def _config_changed(self, key: str, value: str) -> None:
        if key == "HeartbeatInterval":
            self._arm_heartbeat()
        elif key == "MeterValueSampleInterval":
            self.recorder.arm_sampling()
        elif key == "ClockAlignedDataInterval":
            self._arm_aligned()
        elif key in CORE_KEYS:
            self.station.apply_setting(key, value)

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        if key and len(key) > self.config.get_int("GetConfigurationMaxKeys"):
            raise OccurenceConstraintViolationError(
                details={"cause": f"at most {self.config.get('GetConfigurationMaxKeys')} keys"}
            )
        known, unknown = self.config.read(key)
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k.key, "readonly": k.readonly, "value": k.value} for k in known
            ],
            unknown_key=unknown or None,
        )

    @on(Action.clear_cache)
    def on_clear_cache(self) -> call_result.ClearCache:
        self.cache.clear()
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> call_result.DataTransfer:
        if vendor_id != self.settings.vendor:
            return call_result.DataTransfer(status="UnknownVendorId")
        return call_result.DataTransfer(status="UnknownMessageId")

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str) -> call_result.ChangeAvailability:
        if connector_id not in (0, 1):
            return call_result.ChangeAvailability(status="Rejected")
        operative = type == "Operative"
        if not operative and self.recorder.active() is not None:
            self._pending_availability = False
            return call_result.ChangeAvailability(status="Scheduled")
        self._pending_availability = None
        self._set_availability(operative)
        return call_result.ChangeAvailability(status="Accepted")

    def _set_availability(self, operative: bool) -> None:
        self.state.set_available(operative)
        self.station.set_available(operative)
        self.status_changed(self.station.status())

    @on(Action.remote_start_transaction)
    def on_remote_start(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
    ) -> call_result.RemoteStartTransaction:
        if connector_id not in (None, 1):
            return call_result.RemoteStartTransaction(status="Rejected")
        if not self.state.available() or self.recorder.active() is not None:
            return call_result.RemoteStartTransaction(status="Rejected")
        if self._latest_status.status is ConnectorStatus.FAULTED:
            return call_result.RemoteStartTransaction(status="Rejected")
        if charging_profile is not None:
            profile = _camel(charging_profile)
            if profile.get("chargingProfilePurpose") != "TxProfile":
                return call_result.RemoteStartTransaction(status="Rejected")
            try:
                self.profiles.install(1, profile)
            except ProfileError:
                return call_result.RemoteStartTransaction(status="Rejected")
        return call_result.RemoteStartTransaction(status="Accepted")

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, **_: Any) -> None:
        if self.config.get_bool("AuthorizeRemoteTxRequests"):
            answer = await self.authorizer.authorize(id_tag)
        else:
            answer = AuthorizationAnswer(id_tag, True, "Accepted", None, "central_system")
        reservation = self.reservations.current()
        if reservation is not None and not reservation.admits(id_tag, answer.parent_id_tag):
            answer = AuthorizationAnswer(id_tag, False, "Invalid", answer.parent_id_tag, "reservation")
        self.station.deliver_authorization(answer)
        if answer.accepted:
            self.station.remote_start(id_tag)
        self._apply_limit()

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        active = self.recorder.active()
        if active is None or self.queue.remote_id(active.local_tx_id) != transaction_id:
            return call_result.RemoteStopTransaction(status="Rejected")
        return call_result.RemoteStopTransaction(status="Accepted")

    @after(Action.remote_stop_transaction)
    def after_remote_stop(self, transaction_id: int) -> None:
        active = self.recorder.active()
        if active is not None and self.queue.remote_id(active.local_tx_id) == transaction_id:
            self.station.stop_session(StopReason.REMOTE)

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str) -> None:
        hard = type == "Hard"
        if self.recorder.active() is not None:
            self.station.stop_session(StopReason.HARD_RESET if hard else StopReason.SOFT_RESET)
        if not hard:
            # Give the StopTransaction a chance to go out before the reboot.
            await self._drain_queue_briefly()
        for attempt in range(self.config.get_int("ResetRetries") + 1):
            if self.station.reset(hard):
                break
            LOGGER.warning("reset attempt %d failed", attempt + 1)
        self._restart_requested.set()

    async def _drain_queue_briefly(self) -> None:
        if self.queue.head() is None or not self.accepted:
            return
        self._queue_idle.clear()
        self._wake_sender()
        try:
            await clock_timeout(self.clock, self._queue_idle.wait(), self.settings.pdu_timeout)
        except TimeoutError:
            pass

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int) -> call_result.UnlockConnector:
        if connector_id != 1:
            return call_result.UnlockConnector(status="NotSupported")
        if self.recorder.active() is not None:
            self.station.stop_session(StopReason.UNLOCK_COMMAND)
        unlocked = self.station.unlock_connector()
        return call_result.UnlockConnector(status="Unlocked" if unlocked else "UnlockFailed")

    # ------------------------------------------------------------------ RemoteTrigger

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.TriggerMessage:
        if connector_id is not None and connector_id not in (0, 1):
            return call_result.TriggerMessage(status="Rejected")
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    async def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> None:
        if connector_id is not None and connector_id not in (0, 1):
            return
        if requested_message == "BootNotification":
            result = await self._best_effort("BootNotification", self._boot_payload())
            if result is not None and result["interval"] > 0:
                self.config.set("HeartbeatInterval", str(result["interval"]))
        elif requested_message == "Heartbeat":
            await self._heartbeat()
        elif requested_message == "StatusNotification":
            for connector in ([connector_id] if connector_id is not None else [0, 1]):
                report = self._latest_status if connector == 1 else self._connector_zero_status()
                await self._send_status(connector, report)
        elif requested_message == "MeterValues":
            meter_payload: dict[str, Any] = {
                "connectorId": 1,
                "meterValue": [
                    _meter_value(self, "MeterValuesSampledData", "Trigger")
                ],
            }
            active = self.recorder.active()
            if active is not None:
                remote = self.queue.remote_id(active.local_tx_id)
                if remote is not None:
                    meter_payload["transactionId"] = remote
            await self._best_effort("MeterValues", meter_payload)
        elif requested_message == "FirmwareStatusNotification":
            await self.firmware.send_firmware_status()
        elif requested_message == "DiagnosticsStatusNotification":
            await self.firmware.send_diagnostics_status()

    # ------------------------------------------------------------------ clock-aligned data

    def _arm_aligned(self) -> None:
        if self._aligned_timer is not None:
            self._aligned_timer.cancel()
            self._aligned_timer = None
        interval = self.config.get_int("ClockAlignedDataInterval")
        if interval > 0:
            at = self.recorder.next_aligned(self.clock.now(), interval)
            self._aligned_timer = self.clock.call_at(at, self._aligned_due)

    def _aligned_due(self) -> None:
        self._aligned_timer = None
        payload = self.recorder.aligned_sample(self.clock.now())
        if payload is not None and self.accepted:
            self._spawn(self._best_effort("MeterValues", payload))
        self._arm_aligned()

    # ------------------------------------------------------------------ LocalAuthListManagement

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self) -> call_result.GetLocalListVersion:
        if not self.config.get_bool("LocalAuthListEnabled"):
            return call_result.GetLocalListVersion(list_version=-1)
        return call_result.GetLocalListVersion(list_version=self.local_list.version())

    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
    ) -> call_result.SendLocalList:
        if not self.config.get_bool("LocalAuthListEnabled"):
            return call_result.SendLocalList(status="NotSupported")
        updates: list[ListUpdate] = []
        try:
            for entry in local_authorization_list or []:
                info = entry.get("id_tag_info")
                updates.append(
                    ListUpdate(
                        entry["id_tag"],
                        IdTagInfo.from_ocpp(_camel(info)) if info is not None else None,
                    )
                )
        except ValueError as error:
            raise PropertyConstraintViolationError(details={"cause": str(error)}) from None
        status = self.local_list.apply(
            list_version,
            update_type == "Full",
            updates,
            self.config.get_int("SendLocalListMaxLength"),
            self.config.get_int("LocalAuthListMaxLength"),
        )
        return call_result.SendLocalList(status=status.value)

    # ------------------------------------------------------------------ Reservation

    @on(Action.reserve_now)
    def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        parent_id_tag: str | None = None,
    ) -> call_result.ReserveNow:
        if connector_id == 0 and not self.config.get_bool("ReserveConnectorZeroSupported"):
            return call_result.ReserveNow(status="Rejected")
        if connector_id not in (0, 1):
            return call_result.ReserveNow(status="Rejected")
        try:
            expiry = parse_ocpp_time(expiry_date)
        except ValueError as error:
            raise PropertyConstraintViolationError(details={"cause": str(error)}) from None
        status = self._latest_status.status
        existing = self.reservations.current()
        if status is ConnectorStatus.FAULTED:
            return call_result.ReserveNow(status="Faulted")
        if status is ConnectorStatus.UNAVAILABLE or not self.state.available():
            return call_result.ReserveNow(status="Unavailable")
        if existing is not None and existing.reservation_id != reservation_id:
            return call_result.ReserveNow(status="Occupied")
        if status not in _NOT_BUSY or self.recorder.active() is not None:
            return call_result.ReserveNow(status="Occupied")
        if expiry <= self.clock.now():
            return call_result.ReserveNow(status="Rejected")
        self.reservations.put(Reservation(reservation_id, connector_id, id_tag, parent_id_tag, expiry))
        self._restore_reservation()
        return call_result.ReserveNow(status="Accepted")

    def _restore_reservation(self) -> None:
        if self._reservation_timer is not None:
            self._reservation_timer.cancel()
            self._reservation_timer = None
        reservation = self.reservations.current()
        if reservation is None:
            return
        if reservation.expiry <= self.clock.now():
            self._end_reservation()
            return
        self.station.set_reserved(True)
        self._reservation_timer = self.clock.call_at(reservation.expiry, self._end_reservation)

    def _end_reservation(self) -> None:
        if self._reservation_timer is not None:
            self._reservation_timer.cancel()
            self._reservation_timer = None
        self.reservations.remove()
        self.station.set_reserved(False)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int) -> call_result.CancelReservation:
        reservation = self.reservations.current()
        if reservation is None or reservation.reservation_id != reservation_id:
            return call_result.CancelReservation(status="Rejected")
        self._end_reservation()
        return call_result.CancelReservation(status="Accepted")

    # ------------------------------------------------------------------ SmartCharging

    def _tx_context(self) -> tuple[float | None, int | None]:
        active = self.recorder.active()
        if active is None:
            return None, None
        return active.started_at, self.queue.remote_id(active.local_tx_id)

    def _apply_limit(self) -> None:
        """Hand the composite limit to the core's arbiter; re-run when it next changes."""
        if self._limit_timer is not None:
            self._limit_timer.cancel()
            self._limit_timer = None
        now = self.clock.now()
        tx_start, tx_id = self._tx_context()
        profiles = self.profiles.profiles()
        limit = composite_limit(profiles, now, tx_start, tx_id)
        reason = "OCPP charging profile" if limit is not None else "no OCPP charging profile"
        self.station.set_limit("ocpp", limit, reason)
        change = next_change(profiles, now, 8 * 86400.0, tx_start)
        if change is not None:
            self._limit_timer = self.clock.call_at(change, self._apply_limit)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> call_result.SetChargingProfile:
        body = _camel(cs_charging_profiles)
        if connector_id not in (0, 1):
            return call_result.SetChargingProfile(status="Rejected")
        if body.get("chargingProfilePurpose") == "TxProfile":
            tx_start, tx_id = self._tx_context()
            if tx_start is None:
                return call_result.SetChargingProfile(status="Rejected")
            if body.get("transactionId") not in (None, tx_id):
                return call_result.SetChargingProfile(status="Rejected")
        try:
            self.profiles.install(connector_id, body)
        except ProfileError as error:
            LOGGER.info("SetChargingProfile rejected: %s", error)
            return call_result.SetChargingProfile(status="Rejected")
        self._apply_limit()
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
    ) -> call_result.ClearChargingProfile:
        removed = self.profiles.clear(id, connector_id, charging_profile_purpose, stack_level)
        self._apply_limit()
        return call_result.ClearChargingProfile(status="Accepted" if removed else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ) -> call_result.GetCompositeSchedule:
        if connector_id not in (0, 1) or charging_rate_unit == "W":
            return call_result.GetCompositeSchedule(status="Rejected")
        now = float(int(self.clock.now()))
        tx_start, tx_id = self._tx_context()
        periods = composite_schedule(
            self.profiles.profiles(), now, duration, tx_start, tx_id, self.settings.station_max_amps
        )
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=format_ocpp_time(now),
            charging_schedule=_snake(schedule_payload(periods, now, duration)),
        )

    # ------------------------------------------------------------------ FirmwareManagement

    @on(Action.update_firmware)
    def on_update_firmware(
        self,
        location: str,
        retrieve_date: str,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> call_result.UpdateFirmware:
        try:
            when = parse_ocpp_time(retrieve_date)
            self.firmware.schedule_update(location, when, retries, retry_interval)
        except ValueError as error:
            raise PropertyConstraintViolationError(details={"cause": str(error)}) from None
        return call_result.UpdateFirmware()

    @on(Action.get_diagnostics)
    def on_get_diagnostics(
        self,
        location: str,
        retries: int | None = None,
        retry_interval: int | None = None,
        start_time: str | None = None,
        stop_time: str | None = None,
    ) -> call_result.GetDiagnostics:
        try:
            file_name = self.firmware.schedule_diagnostics(location, retries, retry_interval)
        except ValueError as error:
            raise PropertyConstraintViolationError(details={"cause": str(error)}) from None
        return call_result.GetDiagnostics(file_name=file_name)

    # ------------------------------------------------------------------ used by FirmwareService

    async def notify(self, action: str, payload: dict[str, Any]) -> None:
        await self._best_effort(action, payload)

    def request_reboot(self) -> None:
        if self.recorder.active() is not None:
            self.station.stop_session(StopReason.REBOOT)
        self.station.reset(True)
        self._restart_requested.set()

    def snapshot_for_diagnostics(self) -> dict[str, Any]:
        known, _ = self.config.read(None)
        return {
            "charge_point_id": self.settings.charge_point_id,
            "time": format_ocpp_time(self.clock.now()),
            "configuration": {k.key: k.value for k in known},
            "queued_transaction_messages": len(self.queue),
            "status": self._latest_status.status.value,
            "error_code": self._latest_status.error_code,
            "local_list_version": self.local_list.version(),
            "charging_profiles": [p.profile_id for p in self.profiles.profiles()],
        }


def _meter_value(cp: OcppChargePoint, key: str, context: str) -> dict[str, Any]:
    from controller.ocpp.metering import meter_value

    return meter_value(cp.station.meter(), cp.config.get_list(key), context, cp.clock.now())


def _call_id_of(raw: str) -> str | None:
    """The message id of something that looks like a CALL, so an error can be addressed."""
    try:
        frame = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if isinstance(frame, list) and len(frame) >= 2 and frame[0] == 2 and isinstance(frame[1], str):
        return frame[1]
    return None


def _camel(data: Any) -> Any:
    from ocpp.charge_point import snake_to_camel_case

    return snake_to_camel_case(data)


def _snake(data: Any) -> Any:
    from ocpp.charge_point import camel_to_snake_case

    return camel_to_snake_case(data)
