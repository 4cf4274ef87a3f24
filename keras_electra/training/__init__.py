"""Training drivers: distribution, checkpointing, callbacks, pretrain/finetune."""
