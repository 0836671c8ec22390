"""RadQA reports layer."""
