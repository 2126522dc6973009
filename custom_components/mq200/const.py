"""Constants of the MQ 200 integration."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

DOMAIN: Final = "mq200"
LOGGER = logging.getLogger(__package__)

CONF_TOKEN: Final = "token"
#: Setup form section with the portal's credentials (to fetch the token instead of typing it).
CONF_PORTAL: Final = "portal"
DEFAULT_PORTAL_USER: Final = "admin"
ZEROCONF_SERIAL_KEY: Final = "serial"

MANUFACTURER: Final = "MQ"
DEFAULT_MODEL: Final = "MQ 200"

#: First and longest wait between reconnect attempts once the charger went away.
RECONNECT_MIN_S: Final = 1.0
RECONNECT_MAX_S: Final = 60.0
#: The "when full" estimate is asked at most this often while deltas stream in.
WHATIF_COOLDOWN: Final = timedelta(seconds=30)

#: Schedule window the daily charge window time entities edit.
DAILY_WINDOW_ID: Final = "daily"
#: Prefix of one-off windows created by the schedule_charging action.
ACTION_WINDOW_PREFIX: Final = "ha-"
DEFAULT_DEPARTURE_SOC_PCT: Final = 80

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
