"""GLUE: the nine tasks' TSV readers (`glue.tasks`), a generic CSV/TSV/JSONL reader and
GLUE's metrics (`glue.metrics`). Pure Python + numpy; `keras-electra glue` drives them
(`keras_electra.training.glue`)."""
