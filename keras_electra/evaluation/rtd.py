"""Replaced-token detection: a pretrainer's validation metrics and the baselines it must beat.

`rtd_metrics` runs `evaluate` (no dropout; the pretrainer's evaluation random stream) and
returns `{"val_<metric>": float}` (`val_disc_auc`, `val_disc_accuracy`, `val_gen_loss`, ...).
`rtd_baselines` evaluates, on the same validation batches, the trained pretrainer and two
untrained discriminators:

* `untrained_discriminator`: the trained model with the discriminator's own weights
  (`discriminator_layers`: transformer layers, embedding projection, RTD head) reset to
  their random initialization. Generator, shared embeddings and step counters stay
  trained, so it judges exactly the same replaced tokens as the trained model.
* `untrained_model`: the whole pretrainer at its random initialization, whose untrained
  generator makes different (random) replacements; its disc AUC is about chance (0.5).

Example:
```python
from keras_electra import ElectraPretrainer
from keras_electra.evaluation.rtd import rtd_baselines

def build():  # the same random initialization every call
    model = ElectraPretrainer.from_preset("electra_tiny", vocabulary_size=1000, seed=1)
    model.compile()
    return model

results = rtd_baselines(build, lambda model: model.load_weights("trained.weights.h5"),
                        lambda: validation_batches)
results["trained"]["val_disc_auc"], results["untrained_discriminator"]["val_disc_auc"]
```
"""


def rtd_metrics(model, dataset, steps=None):
    """`model.evaluate(dataset, steps)` as `{"val_<metric>": float}`.

    Resets the metric accumulators afterwards, so a training run that continues does not
    average the validation values into its next window.
    """
    results = model.evaluate(dataset, steps=steps, verbose=0, return_dict=True)
    model.reset_metrics()
    return {f"val_{k}": float(v) for k, v in results.items()}


def discriminator_layers(pretrainer):
    """The layers that only the discriminator uses: its transformer layers, its embedding
    projection (when E != H) and the RTD head. Not the embeddings it shares with the
    generator."""
    layers = list(pretrainer.backbone.transformer_layers) + [pretrainer.discriminator_head]
    if pretrainer.backbone.embeddings_project is not None:
        layers.append(pretrainer.backbone.embeddings_project)
    return layers


def reset_discriminator(pretrainer, initial):
    """Give `pretrainer`'s `discriminator_layers` the weights of `initial`'s (same
    architecture, e.g. the same model at its random initialization); in place."""
    for target, source in zip(discriminator_layers(pretrainer), discriminator_layers(initial)):
        for variable, value in zip(target.weights, source.weights):
            variable.assign(value)


def rtd_baselines(build_model, restore, make_dataset, steps=None):
    """Validation metrics of the trained pretrainer and of two untrained discriminators.

    Args:
        build_model: no-argument callable returning a compiled `ElectraPretrainer` at its
            random initialization, the same one on every call (seed it).
        restore: callable(model) that loads the trained weights, step counters included,
            into a model from `build_model`.
        make_dataset: no-argument callable returning the validation batches, the same
            batches on every call.
        steps: batches to evaluate (default: all of them).

    Returns `{"untrained_model": ..., "trained": ..., "untrained_discriminator": ...}`,
    each `rtd_metrics`. Each model is evaluated once, so the trained model and the one
    with the reset discriminator draw the masking and sampling noise of the same
    (restored) evaluation step.
    """
    fresh = build_model()
    results = {"untrained_model": rtd_metrics(fresh, make_dataset(), steps)}
    trained = build_model()
    restore(trained)
    results["trained"] = rtd_metrics(trained, make_dataset(), steps)
    baseline = build_model()
    restore(baseline)
    reset_discriminator(baseline, fresh)
    results["untrained_discriminator"] = rtd_metrics(baseline, make_dataset(), steps)
    return results
