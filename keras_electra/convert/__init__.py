"""Checkpoint converters: Hugging Face, google-research/electra TF1, keras-hub presets."""
