"""trustly_emulator: an offline, stateful, wire-compatible Trustly.

Point any Trustly integration's API URL at it, take customers through its bank checkout pages,
and receive real signed notifications. See ``docs/emulator.md``.
"""

from trustly_emulator._app import create_app
from trustly_emulator._clock import Clock, ManualClock, SystemClock
from trustly_emulator._config import EmulatorConfig, EmulatorKeys, MerchantConfig
from trustly_emulator._emulator import Emulator
from trustly_emulator._faults import FaultRule
from trustly_emulator._scenarios import Scenario, catalogue

__all__ = [
    "Clock",
    "Emulator",
    "EmulatorConfig",
    "EmulatorKeys",
    "FaultRule",
    "ManualClock",
    "MerchantConfig",
    "Scenario",
    "SystemClock",
    "catalogue",
    "create_app",
]
