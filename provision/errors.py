"""Errors that reach the user as one line per problem, never as a traceback."""

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
