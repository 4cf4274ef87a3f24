"""Checkpoint converters: Hugging Face, google-research/electra TF1, keras-hub presets.

Importing this package registers the `from_preset` loaders of the models for HF
dirs and keras-hub presets (`keras_electra.models.electra_preset_loaders`);
`keras_electra/__init__.py` imports it.
"""

from keras_electra.convert import hf, keras_hub
from keras_electra.convert.pretrainer import pretrainer_from_hf, pretrainer_from_sources
from keras_electra.convert.question_answerer import (
    question_answerer_from_hf,
    question_answerer_from_keras_hub,
)
from keras_electra.convert.text_classifier import (
    text_classifier_from_hf,
    text_classifier_from_keras_hub,
)
from keras_electra.models.electra_preset_loaders import (
    PRETRAINING_SOURCES,
    register_preset_loader,
)
from keras_electra.utils.preset_dirs import HF, KERAS_HUB

register_preset_loader("ElectraBackbone", HF, hf.backbone_from_hf)
register_preset_loader("ElectraBackbone", KERAS_HUB, keras_hub.backbone_from_keras_hub)
register_preset_loader("ElectraPretrainer", HF, pretrainer_from_hf)
register_preset_loader("ElectraPretrainer", PRETRAINING_SOURCES, pretrainer_from_sources)
register_preset_loader("ElectraQuestionAnswerer", HF, question_answerer_from_hf)
register_preset_loader("ElectraQuestionAnswerer", KERAS_HUB, question_answerer_from_keras_hub)
register_preset_loader("ElectraTokenizer", KERAS_HUB, keras_hub.tokenizer_from_keras_hub)
register_preset_loader("ElectraTextClassifier", HF, text_classifier_from_hf)
register_preset_loader("ElectraTextClassifier", KERAS_HUB, text_classifier_from_keras_hub)
