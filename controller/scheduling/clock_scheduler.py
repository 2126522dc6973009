"""APScheduler's triggers and job store, driven by the controller's injected clock.

APScheduler is good at two things we need: its triggers (cron, date, interval) compute fire
times in a time zone, DST included, and its SQLAlchemy job store keeps job definitions across
restarts of the daemon.  Its schedulers are not used: they run jobs on their own thread or
loop against wall time, which would break the virtual clock of tests and ``mq200 simulate``.
Instead :class:`ClockScheduler` asks a job's trigger for its next fire time and arms one
``clock.call_at`` per job; when it fires, the next fire time is written to the store before
the handler acts (a power cut then never replays a fire that was acted upon).

Every job stores the same importable stand-in callable (:func:`job_marker`) with the
arguments ``(topic, payload)``; the scheduler dispatches by topic to handlers its owner
registered, because live objects cannot be pickled into the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, JobLookupError
from apscheduler.triggers.base import BaseTrigger

from controller.clock import Clock, TimerHandle

log = logging.getLogger(__name__)

JOB_FUNC_REF = "controller.scheduling.clock_scheduler:job_marker"
STORE_ALIAS = "mq200"


def job_marker(topic: str, payload: dict[str, Any]) -> None:
    """Stand-in callable stored with every job; :class:`ClockScheduler` dispatches by topic."""


@dataclass(frozen=True)
class JobFire:
    job_id: str
    topic: str
    payload: dict[str, Any]
    fire_time: datetime
    missed: int
    """How many earlier fire times passed unseen (e.g. while the controller was off)."""


class _StoreOwner:
    """What the job store and the Job objects expect of a scheduler: only a time zone."""

    def __init__(self, zone: tzinfo) -> None:
        self.timezone = zone


class ClockScheduler:
    def __init__(self, clock: Clock, store: BaseJobStore, zone: tzinfo, owns_store: bool = False) -> None:
        self._clock = clock
        self._store = store
        self._owner = _StoreOwner(zone)
        self._owns_store = owns_store
        self._handlers: dict[str, Callable[[JobFire], None]] = {}
        self._timers: dict[str, TimerHandle] = {}
        self._closed = False
        store.start(self._owner, STORE_ALIAS)

    # ------------------------------------------------------------------ setup
    def on(self, topic: str, handler: Callable[[JobFire], None]) -> None:
        self._handlers[topic] = handler

    def start(self) -> None:
        """Arm every stored job; ones due while we were off fire once, at once."""
        for job in self._store.get_all_jobs():
            self._arm(job)

    def close(self) -> None:
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._owns_store:
            self._store.shutdown()

    # ------------------------------------------------------------------ jobs
    def add(
        self,
        job_id: str,
        topic: str,
        trigger: BaseTrigger,
        payload: dict[str, Any],
        paused: bool = False,
    ) -> datetime | None:
        """Store a job (replacing one with the same id) and arm it; returns its next fire time.

        A paused job is kept in the store (for its payload) but never fires.  A job whose
        trigger will never fire again is not stored at all.
        """
        self.remove(job_id)
        now = self._now()
        next_time = None if paused else trigger.get_next_fire_time(None, now)
        if next_time is None and not paused:
            return None
        job = Job(
            self._owner,
            id=job_id,
            func=JOB_FUNC_REF,
            args=(topic, payload),
            kwargs={},
            trigger=trigger,
            executor="default",
            name=job_id,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            next_run_time=next_time,
        )
        self._store.add_job(job)
        self._arm(job)
        return next_time

    def remove(self, job_id: str) -> None:
        timer = self._timers.pop(job_id, None)
        if timer is not None:
            timer.cancel()
        try:
            self._store.remove_job(job_id)
        except JobLookupError:
            pass

    def remove_topic(self, topic: str) -> None:
        for job in self.jobs(topic):
            self.remove(job.id)

    def jobs(self, topic: str | None = None) -> list[Job]:
        return [j for j in self._store.get_all_jobs() if topic is None or _topic(j) == topic]

    def next_fire(self, job_id: str) -> datetime | None:
        job = self._store.lookup_job(job_id)
        return None if job is None else job.next_run_time

    # ------------------------------------------------------------------ firing
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), tz=UTC)

    def _arm(self, job: Job) -> None:
        old = self._timers.pop(job.id, None)
        if old is not None:
            old.cancel()
        if job.next_run_time is None or self._closed:
            return
        job_id = job.id
        self._timers[job_id] = self._clock.call_at(
            job.next_run_time.timestamp(), lambda: self._fire(job_id)
        )

    def _fire(self, job_id: str) -> None:
        self._timers.pop(job_id, None)
        job = self._store.lookup_job(job_id)
        if job is None or job.next_run_time is None:
            return
        now = self._now()
        due: list[datetime] = []
        run_time: datetime | None = job.next_run_time
        while run_time is not None and run_time.timestamp() <= now.timestamp() + 1e-6:
            due.append(run_time)
            run_time = job.trigger.get_next_fire_time(run_time, now)
            if len(due) > 10_000:  # a trigger that keeps returning past times
                log.error("job %s: trigger does not advance; dropping it", job_id)
                run_time = None
        if not due:
            self._arm(job)
            return
        job.next_run_time = run_time
        if run_time is None:
            self._store.remove_job(job_id)
        else:
            self._store.update_job(job)
            self._arm(job)
        topic, payload = _topic(job), _payload(job)
        handler = self._handlers.get(topic)
        if handler is None:
            log.warning("job %s fired for topic %r without a handler", job_id, topic)
            return
        handler(JobFire(job_id, topic, payload, due[-1], missed=len(due) - 1))


def _topic(job: Job) -> str:
    return str(job.args[0]) if job.args else ""


def _payload(job: Job) -> dict[str, Any]:
    if len(job.args) > 1 and isinstance(job.args[1], dict):
        return dict(job.args[1])
    return {}


def job_payload(job: Job) -> dict[str, Any]:
    """The payload a job was stored with (for owners rebuilding their state at start)."""
    return _payload(job)
