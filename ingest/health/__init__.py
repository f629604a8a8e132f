"""Station health: per-channel metrics record by record, noise levels, states with reasons."""
