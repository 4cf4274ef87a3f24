"""A non-finite loss stops pretraining with a clear message; the last good checkpoint stays
the newest and no NaN weights are checkpointed or exported."""

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
from pretrain_shards import write_shards  # noqa: E402  (tests/training helper)


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    import keras

    from keras_electra.training.callbacks import NonFiniteLossError
    from keras_electra.training.checkpointing import CheckpointManager
    from keras_electra.training.pretrain import pretrain

    write_shards(str(tmp_path / "train"), num_examples=32, sequence_length=16, num_shards=1)

    class BlowUp(keras.callbacks.Callback):
        """Simulate a divergence: after step 3 the word embeddings become NaN."""

        def on_train_batch_end(self, batch, logs=None):
            if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == 3:
                table = self.model.backbone.token_embedding.embeddings
                table.assign(np.full(table.shape, np.nan, "float32"))

    with pytest.raises(NonFiniteLossError) as info:
        pretrain(train_dir=str(tmp_path / "train"), checkpoint_dir=str(tmp_path / "ckpt"),
                 log_dir=str(tmp_path / "logs"), model_size="tiny", max_seq_length=16,
                 per_gpu_batch_size=4, total_steps=8, warmup_steps=1, checkpoint_frequency=2,
                 progress=False, callbacks=[BlowUp()])
    message = str(info.value)
    assert "step 4: loss is nan" in message
    assert "ckpt-0000000002" in message  # the last good checkpoint, named
    manager = CheckpointManager(tmp_path / "ckpt")
    assert manager.own_steps() == [2]  # nothing written at or after the NaN step
    state = json.loads((tmp_path / "ckpt/worker-0/ckpt-0000000002/state.json").read_text())
    assert state["step"] == 2
    presets = sorted(os.listdir(tmp_path / "ckpt" / "presets"))
    assert presets and all("-step2-" in n for n in presets), presets  # no NaN preset exported
