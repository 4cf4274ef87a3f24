"""Evaluation against baselines: what a trained model must beat.

* `rtd` - replaced-token detection: a pretrainer's validation metrics (disc AUC, ...) and
  those of the same checkpoint with an untrained discriminator and of the untrained model.
* `qa_baselines` - SQuAD v2.0: all-null and random-span predictions under the official
  evaluation (`keras_electra.squad.metrics`).

Layer: above `models`, `data` and `squad` (which it may import), below `training`,
`commands` and `demo` (which use it).
"""
