"""Logging set-up shared by every task: MSTICPY_PROVISION_LOG=debug|info|warning."""

from __future__ import annotations

import logging
import os
from typing import Any

ENV_VAR = "MSTICPY_PROVISION_LOG"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _Formatter(logging.Formatter):
    """One line per record: a library's traceback (the storage SDK logs one at WARNING when an
    error answer has no body to deserialize, e.g. a HEAD refused with 403) is shown at debug
    only."""

    def __init__(self, tracebacks: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.tracebacks = tracebacks

    def formatException(self, ei: Any) -> str:
        return super().formatException(ei) if self.tracebacks else ""

    def formatStack(self, stack_info: str) -> str:
        return super().formatStack(stack_info) if self.tracebacks else ""


def setup_logging() -> None:
    """Configure the root logger from MSTICPY_PROVISION_LOG (default: warning) on stderr."""
    level = _LEVELS.get(os.environ.get(ENV_VAR, "warning").strip().lower(), logging.WARNING)
    root = logging.getLogger()
    if not any(getattr(h, "_msticpy_provision", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(_Formatter(tracebacks=level <= logging.DEBUG))
        handler._msticpy_provision = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # The Azure SDK's HTTP logging policy logs headers (redacted) at INFO; it never logs bodies
    # unless logging_enable/body logging is asked for, which this tool never does.
    logging.getLogger("azure").setLevel(max(level, logging.WARNING))
    # Without a sign-in, azure-identity warns once per credential it tried, per tenant (dozens of
    # lines around the one that matters); the tool says in one line per tenant how to sign in.
    # MSTICPY_PROVISION_LOG=debug shows them all.
    logging.getLogger("azure.identity").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.CRITICAL
    )
