"""Developer tooling: training, running the services, benchmarks."""
