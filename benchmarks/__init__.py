"""jaxnn's benchmark suite: ``python -m benchmarks [--quick] [--only NAME] [--json PATH] [--device gpu]``.

See docs/benchmarks.md for the method and how to reproduce a run.
"""
