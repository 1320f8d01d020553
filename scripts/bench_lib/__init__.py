"""`scripts/bench`: measured figures against the project's performance targets.

`python -m bench_lib [journal|ingest|all] [--quick]` (run by `scripts/bench`, with
`scripts/` on the path). Each section prints one plain-text table: what was measured, the
figure, the target and whether it is met, under a header that names the machine.
"""
