"""Run by test_fit_on_jax_backend in a KERAS_BACKEND=jax subprocess."""

import numpy as np

from keras_electra import ElectraPretrainer

model = ElectraPretrainer.from_preset("electra_tiny", vocabulary_size=300, num_layers=1)
rng = np.random.default_rng(0)
ids = rng.integers(104, 300, size=(8, 16)).astype("int32")
ids[:, 0], ids[:, -1] = 101, 102
x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
before = np.array(model.backbone.token_embedding.embeddings).copy()
history = model.fit(x, batch_size=4, epochs=2, verbose=0)
assert int(np.array(model.rng_step.value)) == 4, model.rng_step.value
assert np.isfinite(history.history["loss"]).all()
assert np.abs(np.array(model.backbone.token_embedding.embeddings) - before).max() > 0
print("JAX-FIT-OK", history.history["loss"])
