"""MQ 200 charger controller daemon."""

__version__ = "0.1.0"
