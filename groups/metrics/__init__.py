"""`/metrics`: the console's figures in the Prometheus text format, from the served snapshots and its own rows."""
