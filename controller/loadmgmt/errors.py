"""Errors raised for bad load-management input; each names the field and value at fault."""

from __future__ import annotations


class LoadManagementError(ValueError):
    """Input the allocation engine refuses (a bad field, an impossible wiring, a full group)."""


class WiringError(LoadManagementError):
    """A station's wire type does not fit the site's wiring (e.g. it uses a delta high leg)."""


class GroupSizeError(LoadManagementError):
    """More members than the configured group size."""
