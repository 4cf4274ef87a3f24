"""Training drivers: optimizers, distribution, checkpointing, callbacks, pretrain/finetune."""
