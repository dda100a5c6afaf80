"""Side-by-side reference apps for the cold-start and warm benchmarks."""
