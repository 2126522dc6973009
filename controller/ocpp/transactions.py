"""Transactions as OCPP sees them: Start/Stop/MeterValues into the persistent queue.

The running transaction is persisted, so after a hard kill or a power cut the next start
closes it with a StopTransaction (reason PowerLoss) at the meter register's value then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from controller.clock import Clock, TimerHandle
from controller.ocpp.config_keys import ConfigurationStore
from controller.ocpp.database import create_tables
from controller.ocpp.id_tag_info import format_ocpp_time
from controller.ocpp.metering import meter_value, next_aligned
from controller.ocpp.station_port import MeterSnapshot, StopReason
from controller.ocpp.tx_queue import TransactionQueue


class ActiveTransactionRow(SQLModel, table=True):
    __tablename__ = "ocpp_active_transaction"
    singleton: int = Field(default=1, primary_key=True)
    local_tx_id: int
    id_tag: str
    meter_start: float
    started_at: float
    stop_txn_data: str = "[]"  # MeterValue elements collected for StopTransaction.transactionData


@dataclass(frozen=True)
class ActiveTransaction:
    local_tx_id: int
    id_tag: str
    meter_start: float
    started_at: float


class TransactionRecorder:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        config: ConfigurationStore,
        queue: TransactionQueue,
        read_meter: Callable[[], MeterSnapshot],
        queued: Callable[[], None],
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._config = config
        self._queue = queue
        self._read_meter = read_meter
        self._queued = queued  # wakes the sender
        self._sample_timer: TimerHandle | None = None
        create_tables(engine)

    def active(self) -> ActiveTransaction | None:
        with Session(self._engine) as session:
            row = session.get(ActiveTransactionRow, 1)
            if row is None:
                return None
            return ActiveTransaction(row.local_tx_id, row.id_tag, row.meter_start, row.started_at)

    def begin(
        self, id_tag: str, meter_start: float, timestamp: float, reservation_id: int | None
    ) -> int:
        if self.active() is not None:
            raise RuntimeError("a transaction is already running; stop it first")
        local_id = self._queue.new_transaction()
        payload: dict[str, Any] = {
            "connectorId": 1,
            "idTag": id_tag,
            "meterStart": int(meter_start),
            "timestamp": format_ocpp_time(timestamp),
        }
        if reservation_id is not None:
            payload["reservationId"] = reservation_id
        begin_data = self._stop_txn_sample("StopTxnSampledData", "Transaction.Begin", timestamp)
        with Session(self._engine) as session:
            session.add(
                ActiveTransactionRow(
                    local_tx_id=local_id,
                    id_tag=id_tag,
                    meter_start=meter_start,
                    started_at=timestamp,
                    stop_txn_data=json.dumps(begin_data),
                )
            )
            session.commit()
        self._queue.enqueue("StartTransaction", payload, local_id)
        self._queued()
        self.arm_sampling()
        return local_id

    def end(
        self, reason: StopReason, meter_stop: float, timestamp: float, id_tag: str | None = None
    ) -> int | None:
        """Queue the StopTransaction; returns the local id of the transaction that ended."""
        with Session(self._engine) as session:
            row = session.get(ActiveTransactionRow, 1)
            if row is None:
                return None
            data: list[dict[str, Any]] = json.loads(row.stop_txn_data)
            data += self._stop_txn_sample("StopTxnSampledData", "Transaction.End", timestamp)
            payload: dict[str, Any] = {
                "meterStop": int(max(meter_stop, row.meter_start)),
                "timestamp": format_ocpp_time(timestamp),
                "reason": reason.value,
            }
            if id_tag is not None:
                payload["idTag"] = id_tag
            if data:
                payload["transactionData"] = data
            local_id = row.local_tx_id
            # Queue first: if we die between the two commits, recovery finds the queued stop.
            self._queue.enqueue("StopTransaction", payload, local_id)
            session.delete(row)
            session.commit()
        self.disarm_sampling()
        self._queued()
        return local_id

    def recover_after_restart(self, meter: MeterSnapshot) -> None:
        """A transaction the station no longer runs (we were killed mid-session) is closed."""
        active = self.active()
        if active is None:
            return
        if self._queue.holds("StopTransaction", active.local_tx_id):
            with Session(self._engine) as session:
                row = session.get(ActiveTransactionRow, 1)
                if row is not None:
                    session.delete(row)
                    session.commit()
            return
        self.end(StopReason.POWER_LOSS, meter.energy_wh, self._clock.now())

    def _stop_txn_sample(self, key: str, context: str, at: float) -> list[dict[str, Any]]:
        measurands = self._config.get_list(key)
        if not measurands:
            return []
        return [meter_value(self._read_meter(), measurands, context, at)]

    # --- periodic samples during a transaction --------------------------------------------

    def arm_sampling(self) -> None:
        self.disarm_sampling()
        interval = self._config.get_int("MeterValueSampleInterval")
        if interval > 0 and self.active() is not None:
            self._sample_timer = self._clock.call_later(interval, self._sample)

    def disarm_sampling(self) -> None:
        if self._sample_timer is not None:
            self._sample_timer.cancel()
            self._sample_timer = None

    def _sample(self) -> None:
        self._sample_timer = None
        active = self.active()
        if active is None:
            return
        self.queue_meter_values(
            active.local_tx_id, "MeterValuesSampledData", "Sample.Periodic", self._clock.now()
        )
        self.arm_sampling()

    def queue_meter_values(self, local_tx_id: int, key: str, context: str, at: float) -> None:
        measurands = self._config.get_list(key)
        if not measurands:
            return
        payload = {
            "connectorId": 1,
            "meterValue": [meter_value(self._read_meter(), measurands, context, at)],
        }
        self._queue.enqueue("MeterValues", payload, local_tx_id)
        self._queued()

    def aligned_sample(self, at: float) -> dict[str, Any] | None:
        """Clock-aligned reading: queued with the transaction, or returned to send directly."""
        active = self.active()
        if active is not None:
            self.queue_meter_values(active.local_tx_id, "MeterValuesAlignedData", "Sample.Clock", at)
            extra = self._stop_txn_sample("StopTxnAlignedData", "Sample.Clock", at)
            if extra:
                with Session(self._engine) as session:
                    row = session.get(ActiveTransactionRow, 1)
                    if row is not None:
                        row.stop_txn_data = json.dumps(json.loads(row.stop_txn_data) + extra)
                        session.add(row)
                        session.commit()
            return None
        measurands = self._config.get_list("MeterValuesAlignedData")
        if not measurands:
            return None
        return {"connectorId": 0, "meterValue": [meter_value(self._read_meter(), measurands,
                                                              "Sample.Clock", at)]}

    @staticmethod
    def next_aligned(now: float, interval: float) -> float:
        return next_aligned(now, interval)
