"""Backend-agnostic model code (keras.ops only; no TensorFlow imports at module level)."""
