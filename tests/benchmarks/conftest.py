"""The benchmarks are scripts, not tests: pytest must never import them."""

collect_ignore_glob = ["*.py"]
