"""Typed async client for the MQ 200 twin API, shipped inside the integration."""

from .client import DEFAULT_PORT, Mq200Client
from .errors import (
    FieldIssue,
    Mq200AuthenticationError,
    Mq200ConnectionError,
    Mq200Error,
    Mq200RequestError,
)
from .models import (
    WEEKDAYS,
    ChargerState,
    ConnectorStatus,
    DemandResponseEvent,
    DepartureGoal,
    GroupMember,
    LoadManagementPolicy,
    OneOffWindow,
    PriceEntry,
    ScheduleWindow,
    WeeklyWindow,
    WhatIfAnswer,
)

__all__ = [
    "DEFAULT_PORT",
    "WEEKDAYS",
    "ChargerState",
    "ConnectorStatus",
    "DemandResponseEvent",
    "DepartureGoal",
    "FieldIssue",
    "GroupMember",
    "LoadManagementPolicy",
    "Mq200AuthenticationError",
    "Mq200Client",
    "Mq200ConnectionError",
    "Mq200Error",
    "Mq200RequestError",
    "OneOffWindow",
    "PriceEntry",
    "ScheduleWindow",
    "WeeklyWindow",
    "WhatIfAnswer",
]
