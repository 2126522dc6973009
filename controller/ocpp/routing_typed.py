"""Typed wrappers of the ``ocpp`` package's @on/@after (the package ships no type hints)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from ocpp.routing import after as _after
from ocpp.routing import on as _on

F = TypeVar("F", bound=Callable[..., Any])


def on(action: str) -> Callable[[F], F]:
    """Handler that answers the CALL ``action``."""
    return cast(Callable[[F], F], _on(action))


def after(action: str) -> Callable[[F], F]:
    """Hook run after the answer to ``action`` has been sent."""
    return cast(Callable[[F], F], _after(action))
