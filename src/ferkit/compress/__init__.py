"""Model compression that trains: structured pruning with fine-tuning (ferkit prune)."""
