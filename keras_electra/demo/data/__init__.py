"""The demo's built-in data: `corpus` (Python's documentation as pretraining text) and `qa`
(a generated SQuAD v2.0 set). Nothing is downloaded."""
