"""geojax experiments: entry points and task definitions (data, loss, metrics)."""
