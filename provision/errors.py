"""Errors that reach the user as one line per problem, never as a traceback.

The hierarchy, in one place:

    ProvisionError                  every error the tool reports without a traceback
    ├── UserInputError              the inventory, a flag, a template or a secret source is wrong
    └── AzureOperationError         Azure refused or failed an operation (message says what to do)
        └── TenantError             one tenant's step failed; the fleet goes on with the others
            ├── LockHeld            another run holds the tenant's lock
            └── OperationFailed     a long-running operation ended badly or did not end in time

A tenant's unexpected exception (a bug, a library error) is reported by the engine as one line
that keeps the exception's message (`describe_exception`), with any of the tenant's secret values
masked.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input, located where possible."""

    message: str
    file: str | None = None
    line: int | None = None
    path: str | None = None  # dotted location inside the document, e.g. tenants[1].name

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        loc = f"{self.path}: " if self.path else ""
        return f"{where}{loc}{self.message}"


class ProvisionError(Exception):
    """Base class of every error this tool reports to the user without a traceback."""

    exit_code = 1

    def lines(self) -> list[str]:
        return [str(self)]


class UserInputError(ProvisionError):
    """Wrong user input (inventory, flags, templates, secret sources); lists every problem."""

    def __init__(self, problems: Iterable[Problem | str]) -> None:
        self.problems = [p if isinstance(p, Problem) else Problem(p) for p in problems]
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


def did_you_mean(word: str, choices: list[str]) -> str:
    """` (did you mean 'x'?)` for the closest of `choices`, or an empty string."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class AzureOperationError(ProvisionError):
    """Azure refused or failed an operation; the message already says what to do about it."""


class TenantError(AzureOperationError):
    """A tenant-level failure: reported as one line naming tenant, resource and likely cause."""


class LockHeld(TenantError):
    """Another apply holds the tenant's lock (the message names the holder)."""


class OperationFailed(TenantError):
    """A long-running Azure operation failed, or was still running when the tool stopped waiting."""


def describe_exception(exc: BaseException, limit: int = 300) -> str:
    """`Type: first line of the message` (the message is what the user needs; never dropped)."""
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
