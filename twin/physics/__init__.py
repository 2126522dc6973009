"""Physics of the charger's surroundings: the power board, the grid feeding it and the EV."""

from twin.physics.board import BoardConfig, SimBoard
from twin.physics.ev import EV, EVSpec, is_offer, offered_amps
from twin.physics.faults import BoardFault
from twin.physics.grid import Grid

__all__ = [
    "EV",
    "BoardConfig",
    "BoardFault",
    "EVSpec",
    "Grid",
    "SimBoard",
    "is_offer",
    "offered_amps",
]
