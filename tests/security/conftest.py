"""The security tests reuse the reliability suite's fleet generator and SDK readers."""

from __future__ import annotations

import sys
from pathlib import Path

RELIABILITY = Path(__file__).resolve().parent.parent / "reliability"
if str(RELIABILITY) not in sys.path:
    sys.path.insert(0, str(RELIABILITY))
