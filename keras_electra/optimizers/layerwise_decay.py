"""Layer-wise learning-rate decay, G `model/optimization._get_layer_lrs`.

Depth of each variable (by its Keras path):

* `embeddings/...` and `embeddings_project/...` -> 0;
* `transformer_layer_{i}/...` -> i + 1;
* the task head (`qa_...` by default) -> L + 2.

Multiplier = `decay ** (L + 2 - depth)`: the head trains at the base rate,
the top transformer layer at `decay**2` (not `decay`: G's leftover-pooler
quirk, google-research/electra#51, kept for reproducibility), layer 0 at
`decay**(L+1)`, embeddings at `decay**(L+2)`. A variable matching no key is
an error, as in G.

The multipliers are applied to the Adam step *and* the weight decay of each
variable by `keras_electra.optimizers.create_optimizer(...,
lr_multipliers=...)` (scaling gradients would not work: Adam normalises them
away).

Example:
```python
from keras_electra import ElectraBackbone, ElectraQuestionAnswerer
from keras_electra.optimizers import layerwise_lr_multipliers

backbone = ElectraBackbone(vocabulary_size=100, num_layers=2, num_heads=2,
                           hidden_dim=16, embedding_dim=8, intermediate_dim=32)
qa = ElectraQuestionAnswerer(backbone, head="simple")
multipliers = layerwise_lr_multipliers(qa, 0.8)
multipliers["qa_outputs/kernel"]                    # 1.0
multipliers["transformer_layer_1/feedforward_output_dense/kernel"]  # 0.64
multipliers["embeddings/token_embedding/embeddings"]  # 0.8 ** 4
```
"""

import re

EMBEDDING_KEYS = (r"^embeddings/", r"^embeddings_project/")  # G: "/embeddings/", "/embeddings_project/"
_LAYER = re.compile(r"^transformer_layer_(\d+)/")  # G: "encoder/layer_{i}/"
HEAD_PREFIXES = ("qa_",)  # G: "task_specific/"


def layer_depth(path, num_layers, head_prefixes=HEAD_PREFIXES):
    """G's depth of one variable path; raises `ValueError` if no key matches."""
    if any(re.search(key, path) for key in EMBEDDING_KEYS):
        return 0
    match = _LAYER.search(path)
    if match:
        index = int(match.group(1))
        if index >= num_layers:
            raise ValueError(f"{path!r}: layer {index} but the model has {num_layers} layers")
        return index + 1
    if any(path.startswith(prefix) for prefix in head_prefixes):
        return num_layers + 2
    raise ValueError(
        f"layer-wise lr decay: variable {path!r} matches no key (embeddings/, "
        f"embeddings_project/, transformer_layer_i/, head prefixes {list(head_prefixes)}); "
        "pass head_prefixes for a new task head"
    )


def layerwise_lr_multipliers(model, layerwise_lr_decay, num_layers=None,
                             head_prefixes=HEAD_PREFIXES):
    """`{variable path: decay ** (L + 2 - depth)}` for every trainable variable.

    Args:
        model: a task with a `.backbone` (or a backbone itself).
        layerwise_lr_decay: float in (0, 1]; 1.0 gives all ones.
        num_layers: defaults to `model.backbone.num_layers`.
        head_prefixes: path prefixes of the task-head variables.
    """
    if not 0.0 < layerwise_lr_decay <= 1.0:
        raise ValueError(f"layerwise_lr_decay must be in (0, 1], got {layerwise_lr_decay}")
    backbone = getattr(model, "backbone", None) or model
    if num_layers is None:
        num_layers = backbone.num_layers
    multipliers = {}
    for variable in model.trainable_variables:
        depth = layer_depth(variable.path, num_layers, head_prefixes)
        multipliers[variable.path] = float(layerwise_lr_decay ** (num_layers + 2 - depth))
    return multipliers


def format_lr_table(multipliers, learning_rate, num_layers=None):
    """A printable `path  depth  multiplier  lr` table."""
    lines = [f"{'variable':<72} {'multiplier':>10} {'lr':>12}"]
    for path, mult in multipliers.items():
        lines.append(f"{path:<72} {mult:>10.6f} {learning_rate * mult:>12.4e}")
    return "\n".join(lines)
