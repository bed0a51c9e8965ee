"""The security tests reuse the reliability suite's SDK reader (the fleet is
provision.devtools.fleet's)."""

from __future__ import annotations

import sys
from pathlib import Path

RELIABILITY = Path(__file__).resolve().parent.parent / "reliability"
if str(RELIABILITY) not in sys.path:
    sys.path.insert(0, str(RELIABILITY))
