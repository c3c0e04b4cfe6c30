"""The lag observatory's store: a collector writes a snapshot of each cluster per round, pages read it."""
