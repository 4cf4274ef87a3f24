"""The architecture presets are literal data (issue 26) and equal what they were computed from.

`models/electra_presets.py` used to fill `generator` and `metadata.params` at import time; now
they are written out. This test recomputes the whole table from the old inputs with G's
formulas (`util/training_utils.get_bert_config`, `run_pretraining.get_generator_config`),
written here independently of the package, and counts the tiny ones by building them.
"""

import ast
import pathlib

from keras_electra.models import electra_presets
from keras_electra.models.electra_presets import ARCHITECTURE_PRESETS, VOCAB_SIZE

# The old `_arch(...)` arguments: L, H, E, generator_hidden_size, sequence length, mask prob.
OLD_INPUTS = {
    "electra_tiny": (2, 128, 64, 0.25, 128, 0.15),
    "electra_small": (12, 256, 128, 0.25, 128, 0.15),
    "electra_small_plus": (12, 256, 128, 1.0, 512, 0.15),
    "electra_base": (12, 768, 768, 1.0 / 3.0, 512, 0.15),
    "electra_large": (24, 1024, 1024, 0.25, 512, 0.25),
}


def _bert_config(layers, hidden, embedding):
    return {"vocabulary_size": VOCAB_SIZE, "num_layers": layers,
            "num_heads": max(1, hidden // 64), "hidden_dim": hidden,
            "embedding_dim": embedding, "intermediate_dim": 4 * hidden,
            "max_sequence_length": 512}


def _params(c):  # HF ElectraModel: embeddings (+ LayerNorm), projection if E != H, layers
    v, e, h, f = c["vocabulary_size"], c["embedding_dim"], c["hidden_dim"], c["intermediate_dim"]
    embeddings = (v + c["max_sequence_length"] + 2) * e + 2 * e
    projection = e * h + h if e != h else 0
    attention = 4 * (h * h + h) + 2 * h
    ffn = h * f + f + f * h + h + 2 * h
    return embeddings + projection + c["num_layers"] * (attention + ffn)


def test_the_literal_table_equals_the_old_computation():
    assert list(ARCHITECTURE_PRESETS) == list(OLD_INPUTS)
    for name, (layers, hidden, embedding, mult, seq, mask) in OLD_INPUTS.items():
        preset = ARCHITECTURE_PRESETS[name]
        backbone = _bert_config(layers, hidden, embedding)
        g_hidden = int(round(hidden * mult))
        generator = {**backbone, "hidden_dim": g_hidden, "intermediate_dim": 4 * g_hidden,
                     "num_heads": max(1, g_hidden // 64), "num_layers": layers}
        expected = {"backbone": backbone, "generator": generator,
                    "generator_hidden_size": mult, "generator_layers": 1.0,
                    "pretraining": {"mask_prob": mask, "sequence_length": seq},
                    "metadata": {"description": preset["metadata"]["description"],
                                 "params": _params(backbone)}}
        assert preset == expected, name
        assert preset["generator"] == electra_presets.generator_config(
            preset["backbone"], preset["generator_hidden_size"], preset["generator_layers"])
        assert preset["metadata"]["params"] == electra_presets.backbone_parameter_count(
            preset["backbone"])


def test_the_tiny_presets_params_are_the_built_models():
    from keras_electra import ElectraBackbone

    preset = ARCHITECTURE_PRESETS["electra_tiny"]
    for part in ("backbone", "generator"):
        built = ElectraBackbone(**preset[part]).count_params()
        assert built == _params(preset[part]), part
    assert ElectraBackbone(**preset["backbone"]).count_params() == preset["metadata"]["params"]


def test_the_module_does_not_change_its_presets_at_import_time():
    """Module level holds only literal assignments, functions and classes: no loop, no call
    filling a dict (keras-hub's `*_presets.py` are literal data)."""
    tree = ast.parse(pathlib.Path(electra_presets.__file__).read_text())
    for node in tree.body:
        assert not isinstance(node, (ast.For, ast.While, ast.With, ast.Expr)) or (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)), ast.dump(node)
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "ARCHITECTURE_PRESETS" for t in node.targets):
            ast.literal_eval(node.value)  # raises on anything but literals
