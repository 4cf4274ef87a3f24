"""Loaders `from_preset` hands other checkpoint formats to (HF dirs, keras-hub presets).

The models sit below `keras_electra.convert`, so they cannot import the
converters; `keras_electra.convert` registers them here when it is imported,
and `keras_electra/__init__.py` imports it, so they are in place whichever
module a user imports first. Keys: the class name and the preset's kind from
`keras_electra.utils.preset_dirs.preset_kind`.

Example:
```python
from keras_electra.models.electra_preset_loaders import get_preset_loader
from keras_electra.utils.preset_dirs import HF

load = get_preset_loader("ElectraBackbone", HF)  # keras_electra.convert.hf.backbone_from_hf
```
"""

_LOADERS = {}
# the key of `keras_electra.convert.pretrainer.pretrainer_from_sources` (class
# "ElectraPretrainer"): any source of released weights, to continue pretraining them
PRETRAINING_SOURCES = "pretraining_sources"


def register_preset_loader(class_name, kind, loader):
    """Make `loader` build `class_name` from presets of `kind`."""
    _LOADERS[(class_name, kind)] = loader


def get_preset_loader(class_name, kind):
    """The loader registered for `class_name` and `kind`."""
    try:
        return _LOADERS[(class_name, kind)]
    except KeyError:
        raise ValueError(
            f"{class_name}.from_preset: no loader for {kind!r} presets is registered; "
            "`import keras_electra.convert` registers them.") from None
