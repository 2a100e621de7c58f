"""The demo's steps (`make demo`) and the example model versions that the demo, the live tests and the benchmarks
register."""
