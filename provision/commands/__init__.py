"""The code behind each task: one module per command, each with a `run(...)` returning an exit
code. `common` holds what they share; `exitcodes` is the one place that turns exceptions into
exit codes and one-line messages. Tasks whose code already lives with its subject call it
directly: `emulator` (`provision.emulator.cli`), `patch-kernel` (`provision.kernel`, which the
compute instance runs standalone), `matrix` (`provision.matrix`) and the developer task `bench`
(`provision.devtools.bench`).
"""
