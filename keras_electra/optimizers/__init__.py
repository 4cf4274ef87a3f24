"""Optimizers, learning-rate schedules and layer-wise lr decay (keras only; models may import it).

The one place where keras-electra builds optimizers: `create_optimizer` (the CLI
drivers, the benchmarks), `default_pretrainer_optimizer` (`ElectraPretrainer.compile()`)
and `default_question_answerer_optimizer` (`ElectraQuestionAnswerer.compile()`). All of
them clip the global norm of the *all-reduced* gradient under `tf.distribute`, so N
replicas train like one device (stock Keras `global_clipnorm` clips each replica's part).
"""

from keras_electra.optimizers.electra_optimizers import (
    DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
    DEFAULT_SCHEDULE_FOR_OPTIMIZER,
    OPTIMIZERS,
    SCHEDULES,
    ElectraAdam,
    ElectraAdamW,
    LinearWarmupPolyDecay,
    UpdateStepSchedule,
    create_learning_rate,
    create_optimizer,
    default_pretrainer_optimizer,
    default_question_answerer_optimizer,
    schedule_problems,
)
from keras_electra.optimizers.layerwise_decay import (
    format_lr_table,
    layer_depth,
    layerwise_lr_multipliers,
)

__all__ = [
    "DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY",
    "DEFAULT_SCHEDULE_FOR_OPTIMIZER",
    "OPTIMIZERS",
    "SCHEDULES",
    "ElectraAdam",
    "ElectraAdamW",
    "LinearWarmupPolyDecay",
    "UpdateStepSchedule",
    "create_learning_rate",
    "create_optimizer",
    "default_pretrainer_optimizer",
    "default_question_answerer_optimizer",
    "format_lr_table",
    "layer_depth",
    "layerwise_lr_multipliers",
    "schedule_problems",
]
