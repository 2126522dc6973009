"""The persistent transaction message queue (StartTransaction, StopTransaction, MeterValues).

Guarantees (docs/ocpp.md §Queue):
- a message is committed (fsynced) before anyone may send it, so a crash or power cut after
  the station acted never loses it;
- messages go out strictly in enqueue order, one at a time;
- a message leaves the queue only when its confirmation has arrived (or its attempts are used
  up); each message keeps one message id for all its attempts, so a redelivery after a crash
  in the instant between "confirmation received" and "removal committed" carries the same id;
- transactions started offline get a local id; the StartTransaction.conf maps it to the central
  system's transactionId, which later messages of that transaction carry.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from controller.ocpp.database import create_tables, open_database

TRANSACTION_ACTIONS = ("StartTransaction", "StopTransaction", "MeterValues")


class QueuedMessage(SQLModel, table=True):
    __tablename__ = "ocpp_tx_queue"
    __table_args__ = {"sqlite_autoincrement": True}  # seq never reused: order is insert order
    seq: int | None = Field(default=None, primary_key=True)
    message_id: str
    action: str
    payload: str  # camelCase JSON without transactionId (filled in at send time)
    local_tx_id: int
    attempts: int = 0


class TransactionIdMap(SQLModel, table=True):
    __tablename__ = "ocpp_tx_id_map"
    local_tx_id: int | None = Field(default=None, primary_key=True)
    remote_tx_id: int | None = None
    dropped: bool = False


@dataclass(frozen=True)
class OutgoingMessage:
    seq: int
    message_id: str
    action: str
    payload: dict[str, Any]  # ready to send (transactionId resolved)
    local_tx_id: int
    attempts: int


class TransactionQueue:
    """The queue; reads ahead in batches and confirms through a light (no-fsync) connection."""

    READ_AHEAD = 200

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine)
        path = engine.url.database
        self._light = open_database(path, synchronous="NORMAL") if path else engine
        self._ahead: deque[QueuedMessage] = deque()
        self._remote_ids: dict[int, int | None] = {}
        self._dropped: set[int] = set()

    def new_transaction(self) -> int:
        """Allocate a local transaction id (committed)."""
        with Session(self._engine) as session:
            row = TransactionIdMap()
            session.add(row)
            session.commit()
            session.refresh(row)
            assert row.local_tx_id is not None
            return row.local_tx_id

    def enqueue(self, action: str, payload: dict[str, Any], local_tx_id: int) -> int:
        """Persist a message durably (fsynced); returns its sequence number."""
        if action not in TRANSACTION_ACTIONS:
            raise ValueError(f"action {action!r} is not a transaction message")
        if "transactionId" in payload:
            raise ValueError("payload must not carry transactionId; it is resolved at send time")
        with Session(self._engine) as session:
            row = QueuedMessage(
                message_id=str(uuid.uuid4()),
                action=action,
                payload=json.dumps(payload, separators=(",", ":")),
                local_tx_id=local_tx_id,
            )
            session.add(row)
            session.commit()
            session.refresh(row)
            assert row.seq is not None
            return row.seq

    def __len__(self) -> int:
        with Session(self._engine) as session:
            return len(session.exec(select(QueuedMessage.seq)).all())

    def _fill(self) -> None:
        """Read the oldest messages ahead (only when the buffer is empty, so none twice)."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(QueuedMessage)
                .order_by(col(QueuedMessage.seq))
                .limit(self.READ_AHEAD)
            ).all()
            for row in rows:
                session.expunge(row)
                self._ahead.append(row)

    def _mapping(self, local_tx_id: int) -> int | None:
        if local_tx_id in self._dropped:
            return None
        if local_tx_id not in self._remote_ids or self._remote_ids[local_tx_id] is None:
            with Session(self._engine) as session:
                mapping = session.get(TransactionIdMap, local_tx_id)
                if mapping is not None and mapping.dropped:
                    self._dropped.add(local_tx_id)
                    return None
                self._remote_ids[local_tx_id] = None if mapping is None else mapping.remote_tx_id
        return self._remote_ids[local_tx_id]

    def head(self) -> OutgoingMessage | None:
        """The oldest message, with its transactionId resolved.

        Messages whose transaction can never get an id (its StartTransaction was dropped) are
        discarded here, since the central system could not relate them to anything.
        """
        while True:
            if not self._ahead:
                self._fill()
                if not self._ahead:
                    return None
            row = self._ahead[0]
            assert row.seq is not None
            payload: dict[str, Any] = json.loads(row.payload)
            if row.action != "StartTransaction":
                remote = self._mapping(row.local_tx_id)
                if remote is None:
                    self._delete(row.seq)
                    self._ahead.popleft()
                    continue
                payload["transactionId"] = remote
            return OutgoingMessage(
                row.seq, row.message_id, row.action, payload, row.local_tx_id, row.attempts
            )

    def _delete(self, seq: int) -> None:
        with self._light.begin() as connection:
            connection.execute(text("DELETE FROM ocpp_tx_queue WHERE seq = :seq"), {"seq": seq})

    def holds(self, action: str, local_tx_id: int) -> bool:
        with Session(self._engine) as session:
            row = session.exec(
                select(QueuedMessage.seq).where(
                    QueuedMessage.action == action, QueuedMessage.local_tx_id == local_tx_id
                )
            ).first()
            return row is not None

    def remote_id(self, local_tx_id: int) -> int | None:
        return self._mapping(local_tx_id)

    def confirm(self, message: OutgoingMessage, result: dict[str, Any]) -> None:
        """The confirmation arrived: map the id (StartTransaction) and remove, atomically.

        This commit is not fsynced: a process kill cannot lose it (WAL), a power cut may at
        worst redeliver the message under its original id — one fsync per delivered message
        would cost more than the whole round trip.
        """
        with self._light.begin() as connection:
            if message.action == "StartTransaction":
                remote = int(result["transactionId"])
                connection.execute(
                    text("UPDATE ocpp_tx_id_map SET remote_tx_id = :remote WHERE local_tx_id = :local"),
                    {"remote": remote, "local": message.local_tx_id},
                )
                self._remote_ids[message.local_tx_id] = remote
            connection.execute(text("DELETE FROM ocpp_tx_queue WHERE seq = :seq"),
                               {"seq": message.seq})
        if self._ahead and self._ahead[0].seq == message.seq:
            self._ahead.popleft()

    def record_failure(self, message: OutgoingMessage, max_attempts: int) -> bool:
        """Count a failed attempt; True if the message was dropped (attempts used up)."""
        with Session(self._engine) as session:
            row = session.get(QueuedMessage, message.seq)
            if row is None:
                return True
            row.attempts += 1
            dropped = row.attempts >= max_attempts
            if dropped:
                session.delete(row)
                if row.action == "StartTransaction":
                    mapping = session.get(TransactionIdMap, row.local_tx_id)
                    if mapping is not None:
                        mapping.dropped = True
                        session.add(mapping)
                    self._dropped.add(row.local_tx_id)
            else:
                session.add(row)
            session.commit()
        if self._ahead and self._ahead[0].seq == message.seq:
            if dropped:
                self._ahead.popleft()
            else:
                self._ahead[0].attempts += 1
        return dropped
