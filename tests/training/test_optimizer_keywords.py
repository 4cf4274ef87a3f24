"""`create_optimizer` by keywords, and one learning-rate check (issue 26).

`make_optimizer(config)` hands every field of a `PretrainConfig` to `create_optimizer` by name
(a positional slip would swap, say, beta_2 and epsilon silently); the `lr > 0 / end <= peak /
warmup <= total` check lives once, in `optimizers.schedule_problems`, spelled as flags for
`PretrainConfig.validate` and as arguments for the Python API.
"""

import pytest

from keras_electra.optimizers import LinearWarmupPolyDecay, create_optimizer, schedule_problems
from keras_electra.training.config import ConfigError, PretrainConfig


def test_create_optimizer_takes_keywords_after_the_learning_rate():
    with pytest.raises(TypeError):
        create_optimizer(1e-3, 100, 10)
    opt = create_optimizer(1e-3, total_steps=100, warmup_steps=10)
    assert float(opt.learning_rate_schedule(10)) == pytest.approx(1e-3)


def test_make_optimizer_passes_each_config_field_to_its_argument():
    from keras_electra.training.pretrain import make_optimizer

    config = PretrainConfig(train_dir="unused", total_steps=100, warmup_steps=10,
                            learning_rate=2e-3, end_learning_rate=1e-4,
                            learning_rate_decay_power=2.0, weight_decay=0.03, beta_1=0.8,
                            beta_2=0.97, epsilon=1e-7, max_grad_norm=0.5, optimizer="adamw",
                            schedule="aws")
    opt = make_optimizer(config)
    schedule = opt.learning_rate_schedule
    assert (schedule.learning_rate, schedule.total_steps, schedule.warmup_steps,
            schedule.end_learning_rate, schedule.power, schedule.schedule) == (
        2e-3, 100, 10, 1e-4, 2.0, "aws")
    assert (float(opt.weight_decay), float(opt.beta_1), float(opt.beta_2),
            float(opt.epsilon), float(opt.global_clipnorm)) == pytest.approx(
        (0.03, 0.8, 0.97, 1e-7, 0.5))


@pytest.mark.parametrize("lr, total, warmup, end, power, flag_message, arg_message", [
    (0.0, 10, 0, 0.0, 1.0, "--learning_rate 0.0: must be > 0.",
     "learning_rate=0.0: must be > 0."),
    (1e-3, 10, 20, 0.0, 1.0, "--warmup_steps 20 must be in [0, --total_steps 10].",
     "warmup_steps=20 must be in [0, total_steps=10]; lower --warmup_steps or raise "
     "--total_steps."),
    (1e-3, 10, 0, 1.0, 1.0, "--end_learning_rate 1.0 must be in [0, --learning_rate 0.001].",
     "end_learning_rate=1.0 must be in [0, learning_rate=0.001]."),
    (1e-3, 10, 0, 0.0, 0.0, "--learning_rate_decay_power must be > 0.",
     "power=0.0: must be > 0."),
])
def test_one_learning_rate_check_for_the_config_and_the_schedule(
        lr, total, warmup, end, power, flag_message, arg_message):
    assert schedule_problems(lr, total, warmup, end, power, flags=True) == [flag_message]
    assert schedule_problems(lr, total, warmup, end, power) == [arg_message]
    config = PretrainConfig(train_dir="unused", learning_rate=lr, total_steps=total,
                            warmup_steps=warmup, end_learning_rate=end,
                            learning_rate_decay_power=power)
    with pytest.raises(ConfigError) as error:
        config.validate(check_files=False)
    assert flag_message in str(error.value)
    with pytest.raises(ValueError) as error:
        LinearWarmupPolyDecay(lr, total, warmup, end, power)
    assert str(error.value) == arg_message


def test_the_pretrain_command_validates_its_config_once(tmp_path, monkeypatch):
    """`keras-electra pretrain` leaves validation to `pretrain()` (issue 26: validate() once)."""
    from keras_electra import cli
    from keras_electra.training import distribute

    calls = []
    monkeypatch.setattr(PretrainConfig, "validate", lambda self, **kw: calls.append(self))

    def stop(**kwargs):
        raise RuntimeError("stopped after validation")

    monkeypatch.setattr(distribute, "set_up_runtime", stop)
    with pytest.raises(RuntimeError, match="stopped after validation"):
        cli.main(["pretrain", "--train_dir", str(tmp_path / "train"), "--model_size", "tiny",
                  "--total_steps", "2", "--warmup_steps", "0"])
    assert len(calls) == 1


def test_pretrain_called_directly_still_validates(tmp_path):
    from keras_electra.training.pretrain import pretrain

    with pytest.raises(ConfigError, match="--learning_rate 0.0: must be > 0."):
        pretrain(train_dir=str(tmp_path), learning_rate=0.0)
