"""RadQA dashboard layer."""
