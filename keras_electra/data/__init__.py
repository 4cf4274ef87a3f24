"""TensorFlow data pipeline: vocabulary, pretraining shards (G packing), tf.data readers."""
