"""The SDK clients every suite points at an emulator: provision.devtools.clients, where the
developer tooling (the throughput benchmark) finds them too."""

from provision.devtools.clients import *  # noqa: F403
from provision.devtools.clients import __all__  # noqa: F401
