"""The `msticpy-provision` console script: the invoke tasks without a checkout.

invoke's `Program`, extended through its own methods: a command line it cannot read (an unknown
flag or task, a value a flag refuses) is one line with the closest flag or task suggested and exit
code 2, and `--help TASK` shows what each valued flag takes (`--inventory=PATH`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

from invoke.exceptions import Exit, ParseError
from invoke.parser.argument import Argument
from invoke.parser.context import ParserContext
from invoke.program import Program

from provision import __version__
from provision.errors import did_you_mean
from provision.tasks import ns, valued_flags

CORE_SHORT = frozenset({"h", "V"})  # the only letters invoke's own flags keep here
EXIT_USAGE = 2  # a command line that cannot be read, as argparse and most tools exit

_UNKNOWN = re.compile(r"^No idea what '(?P<word>.*)' is!$")


class ProvisionProgram(Program):
    """invoke's Program with one-line usage errors that suggest what was meant."""

    def core_args(self) -> list[Argument]:
        """invoke's own flags, long only but `-h` (help) and `-V` (version): a task's letter
        that a task lacks must not fall through to one of them (`apply -d` would be --debug)."""
        args = super().core_args()
        for arg in args:
            arg.names = tuple(n for n in arg.names if len(n) > 1 or n in CORE_SHORT)
        return args

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as exc:
            raise Exit(message=self._usage_error(exc), code=EXIT_USAGE) from None

    def _usage_error(self, exc: ParseError) -> str:
        text = str(exc)
        if text.startswith("error: "):  # a value the flag refused (provision.tasks._Flag)
            return text
        found = _UNKNOWN.match(text)
        if found is None:
            return f"error: {text}"
        word = found["word"]
        context = exc.context
        misplaced = self._unknown_flag_before(word)
        if misplaced is not None:  # invoke read the words after an unknown flag as tasks
            context, word = misplaced
        if word.startswith("-") and context is not None and context.name:
            flags = [str(f) for f in context.flags if str(f).startswith("--")]
            hint = did_you_mean(word, flags).replace("'", "")
            return f"error: {context.name}: unknown flag {word}{hint}; see --help {context.name}"
        tasks = sorted(self.collection.task_names) if self.collection is not None else []
        hint = did_you_mean(word, tasks).replace("'", "")
        return f"error: unknown task or argument {word!r}{hint}; see --list"

    def _unknown_flag_before(self, word: str) -> tuple[ParserContext, str] | None:
        """(task context, flag) of the first unknown `--flag` given to a task before `word`."""
        if self.collection is None or self.parser is None:
            return None
        argv = list(self.argv[1:])
        end = argv.index(word) if word in argv else len(argv)
        context: ParserContext | None = None
        for token in argv[:end]:
            if token in self.parser.contexts:
                context = self.parser.contexts[token]
            elif context is not None and token.startswith("--"):
                name = token.split("=", 1)[0]
                if name not in context.flags:
                    return context, name
        return None

    def print_columns(self, tuples: Sequence[tuple[str, str | None]]) -> None:
        metavars = valued_flags()
        super().print_columns([(_with_metavar(names, metavars), text) for names, text in tuples])


def _with_metavar(names: str, metavars: dict[str, str]) -> str:
    """invoke's `-i STRING, --inventory=STRING` as `-i PATH, --inventory=PATH`; a valued flag
    invoke shows bare (a number with a fraction, a repeatable flag) gets its value too."""
    bare = [part.split("=")[0].split(" ")[0] for part in names.split(", ")]
    metavar = metavars.get(next((b[2:] for b in bare if b.startswith("--")), ""))
    if metavar is None:
        return names
    return ", ".join(f"{b}={metavar}" if b.startswith("--") else f"{b} {metavar}" for b in bare)


program = ProvisionProgram(
    namespace=ns, version=__version__, name="msticpy-provision", binary="msticpy-provision"
)


def main() -> None:
    """Run the tasks as a standalone program (`msticpy-provision plan -i inventory.yaml`)."""
    try:
        program.run()
    except BrokenPipeError:  # the reader went away (`--help | head`): not worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
