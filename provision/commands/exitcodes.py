"""The one place that maps exceptions to exit codes and one-line messages (never a traceback)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from provision.errors import ProvisionError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CHANGES_PENDING = 2  # plan --detailed-exitcode
EXIT_INTERRUPTED = 130


def run_reporting_errors(command: Callable[[], int]) -> int:
    """Run a command; report a ProvisionError as `error: ...` lines on stderr; return the code."""
    from provision.log import setup_logging

    setup_logging()
    try:
        return command()
    except ProvisionError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
