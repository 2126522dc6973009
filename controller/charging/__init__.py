"""SAE J1772 charge logic: pilot, arbiter of the current limit, faults, sessions."""
