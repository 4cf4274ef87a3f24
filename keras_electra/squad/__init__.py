"""SQuAD v1.1/v2.0: reading, features, post-processing and the official metrics."""
