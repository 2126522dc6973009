"""Typed async client for the MQ 200 twin API, shipped inside the integration."""

from .client import DEFAULT_PORT, KEEP, Keep, Mq200Client
from .errors import (
    FieldIssue,
    Mq200AuthenticationError,
    Mq200ConnectionError,
    Mq200Error,
    Mq200PortalLoginError,
    Mq200RequestError,
)
from .portal_token import fetch_client_token
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
    "KEEP",
    "WEEKDAYS",
    "ChargerState",
    "ConnectorStatus",
    "DemandResponseEvent",
    "DepartureGoal",
    "FieldIssue",
    "GroupMember",
    "Keep",
    "LoadManagementPolicy",
    "Mq200AuthenticationError",
    "Mq200Client",
    "Mq200ConnectionError",
    "Mq200Error",
    "Mq200PortalLoginError",
    "Mq200RequestError",
    "OneOffWindow",
    "PriceEntry",
    "ScheduleWindow",
    "WeeklyWindow",
    "WhatIfAnswer",
    "fetch_client_token",
]
