"""Scenarios: the real controller logic against the physics model on a virtual clock."""
