"""Hardware abstraction: the power board as the controller sees it."""
