"""The `msticpy-provision` console script: the invoke tasks without a checkout."""

from __future__ import annotations

from invoke.program import Program

from provision import __version__
from provision.tasks import ns

program = Program(
    namespace=ns, version=__version__, name="msticpy-provision", binary="msticpy-provision"
)


def main() -> None:
    """Run the tasks as a standalone program (`msticpy-provision plan -i inventory.yaml`)."""
    program.run()
