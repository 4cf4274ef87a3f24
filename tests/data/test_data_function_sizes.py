"""Issue 26: the two data entry points stay readable, each in named steps (<= 100 lines with
their docstrings). Their behaviour is covered by the other tests of tests/data/."""

import inspect

import pytest

from keras_electra.data.pretraining_builder import prepare_pretraining_data
from keras_electra.data.pretraining_dataset import pretraining_dataset


@pytest.mark.parametrize("function", [prepare_pretraining_data, pretraining_dataset])
def test_entry_point_fits_in_100_lines(function):
    lines = len(inspect.getsource(function).splitlines())
    assert lines <= 100, f"{function.__name__} is {lines} lines; split it into named steps"
