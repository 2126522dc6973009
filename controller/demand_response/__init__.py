"""Demand response: grid events (OpenADR 2.0b VEN, the twin) as the ``demand_response`` limit."""
