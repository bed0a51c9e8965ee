"""Fixtures of the lifecycle tests: a private copy of the example fleet and an emulator seeded
from it."""

from __future__ import annotations
