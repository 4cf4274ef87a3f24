"""Layer-wise lr decay: every variable's lr equals G's formula, and the optimizer applies it."""

import numpy as np
import pytest


def _tiny_qa(head="electra"):
    import keras

    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer

    keras.utils.set_random_seed(0)
    backbone = ElectraBackbone(vocabulary_size=40, num_layers=3, num_heads=2, hidden_dim=16,
                               embedding_dim=8, intermediate_dim=32, max_sequence_length=32,
                               dropout=0.0)
    return ElectraQuestionAnswerer(backbone, head=head, beam_size=4, head_hidden_dim=8)


def test_lr_table_matches_g_formula():
    from keras_electra.optimizers import format_lr_table, layerwise_lr_multipliers

    qa, decay, base_lr = _tiny_qa(), 0.8, 1e-4
    L = 3
    multipliers = layerwise_lr_multipliers(qa, decay)
    print("\n" + format_lr_table(multipliers, base_lr))
    # Expected depth from the model's structure (not from path matching):
    backbone = qa.backbone
    expected = {}
    for v in backbone.embeddings.trainable_variables:
        expected[v.path] = decay ** (L + 2)  # depth 0
    for v in backbone.embeddings_project.trainable_variables:
        expected[v.path] = decay ** (L + 2)  # depth 0
    for i, layer in enumerate(backbone.transformer_layers):
        for v in layer.trainable_variables:
            expected[v.path] = decay ** (L + 2 - (i + 1))
    backbone_ids = {id(v) for v in backbone.trainable_variables}
    for v in qa.trainable_variables:
        if id(v) not in backbone_ids:
            expected[v.path] = 1.0  # task head, depth L + 2
    assert set(multipliers) == set(expected) == {v.path for v in qa.trainable_variables}
    for path, mult in multipliers.items():
        assert mult == pytest.approx(expected[path]), path
    # G's quirk: the top layer gets d**2, not d
    assert multipliers["transformer_layer_2/feedforward_output_dense/kernel"] == pytest.approx(0.64)
    assert multipliers["embeddings/token_embedding/embeddings"] == pytest.approx(0.8 ** 5)


def test_unknown_variable_raises():
    import keras

    from keras_electra.optimizers import layer_depth, layerwise_lr_multipliers

    with pytest.raises(ValueError, match="matches no key"):
        layer_depth("classifier/kernel", 3)
    qa = _tiny_qa("simple")
    qa.extra = keras.layers.Dense(1, name="classifier")
    qa.extra.build((None, 4))
    with pytest.raises(ValueError, match="'classifier/kernel' matches no key"):
        layerwise_lr_multipliers(qa, 0.8)


def test_optimizer_applies_multipliers():
    """First Adam step moves each weight by ~lr * multiplier (|m/sqrt(v)| = 1 at step 1)."""
    import keras

    from keras_electra.optimizers import create_optimizer, layerwise_lr_multipliers

    qa, base_lr = _tiny_qa("simple"), 1e-3
    multipliers = layerwise_lr_multipliers(qa, 0.5)
    optimizer = create_optimizer(base_lr, total_steps=100, warmup_steps=0, weight_decay=0.0,
                                 epsilon=1e-12, max_grad_norm=None, lr_multipliers=multipliers)
    qa.compile(optimizer=optimizer)
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(4, 40, (4, 16)).astype("int32"),
         "segment_ids": np.repeat([[0] * 6 + [1] * 10], 4, 0).astype("int32"),
         "padding_mask": np.ones((4, 16), "int32")}
    y = {"start_positions": np.array([7, 8, 9, 0]), "end_positions": np.array([9, 9, 12, 0]),
         "is_impossible": np.array([0, 0, 0, 1])}
    before = {v.path: keras.ops.convert_to_numpy(v).copy() for v in qa.trainable_variables}
    qa.fit(x, y, batch_size=4, epochs=1, verbose=0)
    # Group the per-element steps by multiplier (= depth) and compare the median step to
    # lr * multiplier. Single variables can be off (e.g. attention key biases have a ~zero
    # gradient: softmax is invariant to them), a whole depth group cannot.
    groups = {}
    for v in qa.trainable_variables:
        step = np.abs(keras.ops.convert_to_numpy(v) - before[v.path]).ravel()
        groups.setdefault(multipliers[v.path], []).append(step[step > 0])
    assert len(groups) == 5  # embeddings, 3 layers, head
    for mult, steps in sorted(groups.items()):
        ratio = np.median(np.concatenate(steps)) / (base_lr * mult)
        print(f"multiplier {mult:.5f}: median step / (lr * multiplier) = {ratio:.5f}")
        assert ratio == pytest.approx(1.0, rel=0.02), mult
