"""invoke entry point: the tasks live in provision/tasks.py so the console script shares them."""

from provision.tasks import ns  # noqa: F401  (invoke looks for `ns`)
