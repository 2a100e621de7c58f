"""rayship benchmarks: `make bench` runs `python -m bench.run_all`."""
