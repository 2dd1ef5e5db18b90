"""cauce: cloud-style data pipelines as plain Python."""
