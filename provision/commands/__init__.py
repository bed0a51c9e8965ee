"""The code behind each task: one module per command, each with a `run(...)` returning an exit
code. `common` holds what they share; `exitcodes` is the one place that turns exceptions into
exit codes and one-line messages. The developer task `bench` is not a product command: its
code is `provision.devtools.bench.run_bench`.
"""
