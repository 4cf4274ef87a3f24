"""What SQuAD (`training/finetune.py`) and GLUE (`training/glue.py`) fine-tuning share.

The number of steps and the warm-up (google-research/electra `run_finetuning.py`:
`int(n // batch * epochs)` steps, `warmup_proportion` of them warm-up), the compile with
layer-wise learning-rate decay (`optimizers.create_optimizer`), and the fit to exactly that
many steps.
"""

import logging
import math
import time

from keras_electra.training import distribute

logger = logging.getLogger(__name__)


def schedule_steps(config, num_examples, global_batch, epochs):
    """`(total_steps, warmup_steps)`: `config.total_steps`, else G's `int(n // batch *
    epochs)` (at least 1); `config.warmup_steps`, else `int(total * warmup_proportion)`."""
    total_steps = config.total_steps
    if total_steps is None:
        total_steps = max(1, int(num_examples // global_batch * epochs))
    warmup_steps = config.warmup_steps
    if warmup_steps is None:
        warmup_steps = int(total_steps * config.warmup_proportion)
    return total_steps, warmup_steps


def compile_with_layerwise_decay(task, config, strategy, total_steps, warmup_steps,
                                 head_prefixes=None):
    """`task.compile` (in `strategy`'s scope) with the optimizer `config` names, its
    learning rate scaled per layer by `config.layerwise_lr_decay`."""
    from keras_electra.optimizers import (
        create_optimizer,
        format_lr_table,
        layerwise_lr_multipliers,
    )

    prefixes = {} if head_prefixes is None else {"head_prefixes": head_prefixes}
    multipliers = layerwise_lr_multipliers(task, config.layerwise_lr_decay, **prefixes)
    logger.debug("layer-wise learning rates:\n%s",
                 format_lr_table(multipliers, config.learning_rate))
    with distribute.strategy_scope(strategy):
        task.compile(optimizer=create_optimizer(
            config.learning_rate, total_steps=total_steps, warmup_steps=warmup_steps,
            weight_decay=config.weight_decay, optimizer=config.optimizer,
            lr_multipliers=multipliers))


def fit_steps(task, dataset, num_examples, global_batch, total_steps, verbose):
    """Fit exactly `total_steps` steps of `dataset` (already shuffled and seeded: Keras's
    own shuffle is off); returns `(history, seconds)`."""
    from keras_electra.training.callbacks import StopAfterSteps

    steps_per_epoch = min(max(1, num_examples // global_batch), total_steps)
    start = time.time()
    history = task.fit(dataset, epochs=math.ceil(total_steps / steps_per_epoch),
                       steps_per_epoch=steps_per_epoch, callbacks=[StopAfterSteps(total_steps)],
                       shuffle=False, verbose=verbose)
    return history, time.time() - start
