"""The code behind each task: one module per command, each with a `run(...)` returning an exit
code. `common` holds what they share; `exitcodes` is the one place that turns exceptions into
exit codes and one-line messages.
"""
