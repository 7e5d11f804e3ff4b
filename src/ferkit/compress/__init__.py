"""Model compression that trains or chooses: structured pruning with fine-tuning (ferkit prune) and weight
averaging of fine-tuned checkpoints into one model (ferkit soup), and re-estimating a checkpoint's batch-norm
statistics on clean faces (ferkit recalibrate)."""
