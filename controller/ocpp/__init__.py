"""OCPP 1.6J charge point: the MQ 200 talking to a central system (see docs/ocpp.md)."""
