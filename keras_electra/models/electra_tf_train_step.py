"""The TensorFlow train step of ElectraPretrainer: XLA around forward + backward only.

Keras-level `jit_compile=True` would also put the cross-replica gradient
all-reduce inside XLA, which fails under tf.distribute on CPU (docs/STACK_FACTS.md
section 2). Here only the forward and backward passes are compiled; normalizers are
all-reduced before, gradients are summed by the optimizer after. Used only on
the TensorFlow backend; TensorFlow is imported when a step is traced, not with
the module.
"""

import keras


def _forward_backward(model, inputs, seeds, normalizers):
    import tensorflow as tf

    token_ids = inputs["token_ids"]
    batch_size = token_ids.shape[0] or tf.shape(token_ids)[0]
    sequence_length = int(token_ids.shape[1])
    noise = model.draw_noise(batch_size, sequence_length, seeds)
    with tf.GradientTape() as tape:
        outputs = model.forward(inputs, noise, normalizers=normalizers, training=True)
        scaled_loss = model.optimizer.scale_loss(outputs["loss"])
    variables = model.trainable_variables
    gradients = tape.gradient(scaled_loss, variables)
    gradients = [
        tf.convert_to_tensor(g) if g is not None else tf.zeros_like(v)
        for g, v in zip(gradients, variables)
    ]
    return outputs, gradients


def tf_train_step(model, data):
    inputs, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    if model._xla_fwd_bwd is None:
        import tensorflow as tf

        fn = lambda x, s, n: _forward_backward(model, x, s, n)
        model._xla_fwd_bwd = tf.function(fn, jit_compile=model.xla, reduce_retracing=True)
    seeds = model._seeds(model.rng_step.value)
    normalizers = model.normalizers(inputs)
    outputs, gradients = model._xla_fwd_bwd(inputs, seeds, normalizers)
    model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    model.rng_step.assign_add(1)
    model.update_metrics(outputs)
    return model.get_metrics_result()
