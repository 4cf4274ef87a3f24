"""Hugging Face `transformers` Electra checkpoints <-> our ElectraBackbone (+ head weights).

Reads a local HF directory (`config.json` with `model_type: "electra"` and
`model.safetensors`, a sharded `model.safetensors.index.json`, or
`pytorch_model.bin` when torch is installed, loaded with `weights_only=True`)
or `hf://org/name` (downloaded with `huggingface_hub.snapshot_download`).
Understood layouts: `ElectraModel` (no prefix), and `electra.`-prefixed
`ElectraForPreTraining` (+ `discriminator_predictions.*`),
`ElectraForMaskedLM` (+ `generator_predictions.*`, `generator_lm_head.*`) and
`ElectraForQuestionAnswering` (+ `qa_outputs.*`). The name/layout table lives in
`keras_electra.convert.weight_maps`.

Head weights come back as numpy dicts in Keras layout (kernels `[in, out]`),
keyed as in `weight_maps.HEAD_TABLES`; `assign_head_weights` copies them into
a task's head layer and `get_head_weights` reads them back for export.

Example:
```python
from keras_electra.convert import hf

ckpt = hf.load_hf_checkpoint("./electra-small-discriminator")   # HF dir
backbone = hf.backbone_from_hf(ckpt)
head = hf.hf_discriminator_head_weights(ckpt)   # {"dense/kernel": ..., ...}
hf.export_backbone_to_hf(backbone, "./out", model_class="ElectraForPreTraining",
                         heads={"discriminator": head})
```
"""

import dataclasses
import json
import os
import warnings

import numpy as np

from keras_electra.convert import weight_maps

# Head layers <-> numpy dicts live with the models (pretraining exports write them too).
from keras_electra.models.electra_preset_heads import (  # noqa: F401 (re-exported)
    HEAD_ATTRIBUTES,
    assign_head_weights,
    get_head_weights,
)
from keras_electra.utils.preset_dirs import HF_SCHEME

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_FILE = "pytorch_model.bin"
MODEL_CLASSES = ("ElectraModel",) + tuple(e.model_class for e in weight_maps.HF_HEAD_EXPORTS)
# transformers class -> the head kind it carries (weight_maps.HF_HEAD_EXPORTS)
_CLASS_HEAD = {e.model_class: e.kind for e in weight_maps.HF_HEAD_EXPORTS}
_HEAD_PREFIXES = {
    "discriminator": ("discriminator_predictions.",),
    "generator": ("generator_predictions.", "generator_lm_head."),
    "qa": ("qa_outputs.",),
}
# Heads of other HF Electra classes: kept in `extra`, never loaded into the backbone.
_OTHER_HEAD_PREFIXES = ("classifier.", "sequence_summary.")


@dataclasses.dataclass
class HFCheckpoint:
    """A loaded HF Electra checkpoint.

    Attributes:
        path: the local directory.
        config: the HF `config.json` dict.
        backbone_config: `ElectraBackbone` kwargs derived from `config`.
        tensors: every tensor, HF names as stored (numpy).
        prefix: `"electra."` or `""` (bare `ElectraModel`).
        sources: tensor name -> file it came from (for error messages).
    """

    path: str
    config: dict
    backbone_config: dict
    tensors: dict
    prefix: str
    sources: dict

    @property
    def model_class(self):
        return (self.config.get("architectures") or ["ElectraModel"])[0]

    @property
    def heads(self):
        """Names of the heads present: subset of ("discriminator", "generator", "qa")."""
        return tuple(k for k, prefixes in _HEAD_PREFIXES.items()
                     if any(n.startswith(prefixes) for n in self.tensors))

    def backbone_tensors(self):
        """The encoder tensors, with the `electra.` prefix removed."""
        out = {}
        for name, value in self.tensors.items():
            if name.startswith(self.prefix) and not _is_head(name):
                out[name[len(self.prefix):]] = value
        return out

    def describe(self, name):
        return f"tensor {name!r} in {self.sources.get(name, self.path)}"


def _is_head(name):
    return any(name.startswith(p) for ps in _HEAD_PREFIXES.values() for p in ps) or \
        name.startswith(_OTHER_HEAD_PREFIXES)


# --------------------------------------------------------------------------- reading


def resolve_hf_path(path):
    """A local directory for `path`; `hf://org/name` is downloaded (needs network)."""
    path = str(path)
    if path.startswith(HF_SCHEME):
        repo_id = path[len(HF_SCHEME):].strip("/")
        try:
            from huggingface_hub import snapshot_download
        except ImportError as e:
            raise ImportError(
                f"Loading {path} needs `huggingface_hub` (pip install huggingface_hub)."
            ) from e
        try:
            return snapshot_download(
                repo_id,
                allow_patterns=["config.json", "*.safetensors", SAFETENSORS_INDEX, TORCH_FILE,
                                "vocab.txt", "tokenizer.json", "tokenizer_config.json"],
            )
        except Exception as e:
            raise OSError(
                f"Could not download {path} from the Hugging Face Hub ({type(e).__name__}: "
                f"{e}). Check the repo name and the network (HF_HUB_OFFLINE must be unset), "
                "or pass a local directory written by `save_pretrained`."
            ) from e
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"HF checkpoint directory not found: {path}. Pass a directory holding "
            "config.json and model.safetensors (as written by `save_pretrained`) or hf://org/name."
        )
    return path


def read_hf_config(directory):
    """Read and validate `config.json` of an HF Electra directory."""
    config_path = os.path.join(directory, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(
            f"{config_path}: missing. An HF Electra directory needs config.json and "
            "model.safetensors (write them with `model.save_pretrained(dir)`)."
        )
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except ValueError as e:
        raise ValueError(f"{config_path}: not valid JSON ({e}).") from e
    model_type = config.get("model_type")
    if model_type != "electra":
        raise ValueError(
            f"{config_path}: model_type is {model_type!r}, expected 'electra'. "
            "Only Hugging Face Electra checkpoints can be converted here."
        )
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        raise ValueError(
            f"{config_path}: hidden_act is {act!r}; ElectraBackbone implements only the exact "
            "erf 'gelu' of google-research/electra and HF. Convert a 'gelu' checkpoint instead."
        )
    pos = config.get("position_embedding_type", "absolute")
    if pos != "absolute":
        raise ValueError(
            f"{config_path}: position_embedding_type is {pos!r}; only 'absolute' is supported."
        )
    return config


def hf_config_to_backbone_config(config):
    """HF `ElectraConfig` dict -> `ElectraBackbone` kwargs."""
    hidden = config.get("hidden_size", 256)
    return {
        "vocabulary_size": config.get("vocab_size", 30522),
        "num_layers": config.get("num_hidden_layers", 12),
        "num_heads": config.get("num_attention_heads", 4),
        "hidden_dim": hidden,
        "embedding_dim": config.get("embedding_size", hidden),
        "intermediate_dim": config.get("intermediate_size", 4 * hidden),
        "dropout": config.get("hidden_dropout_prob", 0.1),
        "attention_dropout": config.get("attention_probs_dropout_prob", 0.1),
        "max_sequence_length": config.get("max_position_embeddings", 512),
        "num_segments": config.get("type_vocab_size", 2),
        "layer_norm_epsilon": config.get("layer_norm_eps", 1e-12),
        "initializer_range": config.get("initializer_range", 0.02),
    }


def backbone_config_to_hf_config(backbone_config, model_class="ElectraModel"):
    """`ElectraBackbone` config -> HF `ElectraConfig` dict (for `config.json`)."""
    c = backbone_config
    return {
        "architectures": [model_class],
        "model_type": "electra",
        "vocab_size": c["vocabulary_size"],
        "embedding_size": c["embedding_dim"],
        "hidden_size": c["hidden_dim"],
        "num_hidden_layers": c["num_layers"],
        "num_attention_heads": c["num_heads"],
        "intermediate_size": c["intermediate_dim"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": c["dropout"],
        "attention_probs_dropout_prob": c["attention_dropout"],
        "max_position_embeddings": c["max_sequence_length"],
        "type_vocab_size": c["num_segments"],
        "initializer_range": c["initializer_range"],
        "layer_norm_eps": c["layer_norm_epsilon"],
        "position_embedding_type": "absolute",
        "pad_token_id": 0,
        "tie_word_embeddings": True,
        "dtype": "float32",
    }


def _to_numpy_from_torch(tensor):
    import torch

    tensor = tensor.detach().cpu()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.numpy()


_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16,
                       "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
                       "U8": np.uint8, "BOOL": np.bool_}


def _load_safetensors(path):
    """safetensors -> numpy; bfloat16 (which numpy lacks) is widened to float32."""
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except TypeError:
        pass
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            value = bits.view(np.float32)
        elif info["dtype"] in _SAFETENSORS_DTYPES:
            value = np.frombuffer(raw, dtype=np.dtype(_SAFETENSORS_DTYPES[info["dtype"]])
                                  .newbyteorder("<"))
        else:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}.")
        out[name] = value.reshape(info["shape"]).copy()
    return out


def read_hf_tensors(directory):
    """All tensors of an HF directory as numpy: `(tensors, sources)`."""
    single = os.path.join(directory, SAFETENSORS_FILE)
    index = os.path.join(directory, SAFETENSORS_INDEX)
    torch_file = os.path.join(directory, TORCH_FILE)
    if os.path.isfile(single) or os.path.isfile(index):
        files = [single] if os.path.isfile(single) else None
        if files is None:
            with open(index, encoding="utf-8") as f:
                weight_map = json.load(f)["weight_map"]
            files = [os.path.join(directory, n) for n in sorted(set(weight_map.values()))]
        tensors, sources = {}, {}
        for file in files:
            if not os.path.isfile(file):
                raise FileNotFoundError(f"{file}: listed in {index} but missing.")
            try:
                loaded = _load_safetensors(file)
            except Exception as e:
                raise ValueError(f"{file}: cannot read safetensors ({e}).") from e
            for name, value in loaded.items():
                tensors[name] = value
                sources[name] = file
        return tensors, sources
    if os.path.isfile(torch_file):
        try:
            import torch
        except ImportError as e:
            raise ImportError(
                f"{torch_file}: reading pytorch_model.bin needs torch (pip install torch), "
                "or re-save the model as safetensors (`save_pretrained(dir)` does by default)."
            ) from e
        state = torch.load(torch_file, map_location="cpu", weights_only=True)
        tensors = {k: _to_numpy_from_torch(v) for k, v in state.items()}
        return tensors, {k: torch_file for k in tensors}
    raise FileNotFoundError(
        f"{directory}: no model.safetensors, model.safetensors.index.json or "
        "pytorch_model.bin found; save the HF model with `save_pretrained(dir)`."
    )


def load_hf_checkpoint(path):
    """Read an HF Electra dir (or `hf://org/name`) into an `HFCheckpoint`."""
    if isinstance(path, HFCheckpoint):
        return path
    directory = resolve_hf_path(path)
    config = read_hf_config(directory)
    tensors, sources = read_hf_tensors(directory)
    prefix = "electra." if any(k.startswith("electra.") for k in tensors) else ""
    ckpt = HFCheckpoint(path=directory, config=config,
                        backbone_config=hf_config_to_backbone_config(config),
                        tensors=tensors, prefix=prefix, sources=sources)
    _check_known_names(ckpt)
    return ckpt


def _check_known_names(ckpt):
    bc = ckpt.backbone_config
    known = {h for h, _, _ in weight_maps.backbone_weight_table(bc["num_layers"], True)}
    unknown = []
    for name in ckpt.backbone_tensors():
        if name not in known and not name.endswith(weight_maps.HF_IGNORED_SUFFIXES):
            unknown.append(ckpt.prefix + name)
    head_names = {h for table in weight_maps.HEAD_TABLES.values() for h, _, _ in table}
    head_names.add(weight_maps.HF_TIED_LM_WEIGHT)
    for name in ckpt.tensors:
        if _is_head(name):
            if not name.startswith(_OTHER_HEAD_PREFIXES) and name not in head_names:
                unknown.append(name)
        elif not name.startswith(ckpt.prefix):
            unknown.append(name)
    if unknown:
        files = sorted({ckpt.sources.get(n, ckpt.path) for n in unknown})
        raise ValueError(
            f"{', '.join(files)}: unknown Electra tensor names {sorted(unknown)[:20]}"
            f"{' ...' if len(unknown) > 20 else ''}. Expected the layout of transformers' "
            f"ElectraModel / {', '.join(MODEL_CLASSES[1:])}."
        )
    layer_ids = {int(n.split(".")[2]) for n in ckpt.backbone_tensors() if n.startswith("encoder.layer.")}
    if layer_ids and max(layer_ids) + 1 != bc["num_layers"]:
        raise ValueError(
            f"{ckpt.path}: config.json says num_hidden_layers={bc['num_layers']} but the weights "
            f"hold {max(layer_ids) + 1} layers."
        )


# --------------------------------------------------------------------------- backbone


def _numpy(variable):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(variable.value))


def _variables_by_path(model):
    return {v.path: v for v in model.weights}


def set_backbone_weights_from_hf(backbone, tensors, describe=None, skip_embeddings=False):
    """Copy HF-named `tensors` (no `electra.` prefix) into `backbone`.

    Args:
        backbone: an `ElectraBackbone`.
        tensors: dict HF name -> array (as `HFCheckpoint.backbone_tensors()`).
        describe: callable name -> "where" string for error messages.
        skip_embeddings: leave the (shared) embedding block untouched.
    """
    describe = describe or (lambda n: f"tensor {n!r}")
    variables = _variables_by_path(backbone)
    table = weight_maps.backbone_weight_table(
        backbone.num_layers, backbone.embeddings_project is not None)
    missing = [h for h, _, _ in table if h not in tensors
               and not (skip_embeddings and h.startswith("embeddings."))]
    if missing:
        raise ValueError(
            f"{describe(missing[0])}: missing from the checkpoint ({len(missing)} missing: "
            f"{missing[:6]}{' ...' if len(missing) > 6 else ''}). "
            "Is config.json (embedding_size, num_hidden_layers) consistent with the weights?"
        )
    if backbone.embeddings_project is None and "embeddings_project.weight" in tensors:
        raise ValueError(
            f"{describe('embeddings_project.weight')}: present, but config.json has "
            "embedding_size == hidden_size (no projection)."
        )
    for hf_name, path, transform in table:
        if skip_embeddings and hf_name.startswith("embeddings."):
            continue
        variable = variables[path]
        value = np.asarray(tensors[hf_name])
        expected = weight_maps.hf_shape_of(variable.shape, transform)
        if tuple(value.shape) != tuple(expected):
            raise ValueError(
                f"{describe(hf_name)}: shape {tuple(value.shape)} does not match the model "
                f"config, which needs {tuple(expected)} (variable {path}). Check vocab_size / "
                "hidden_size / embedding_size / num_attention_heads in config.json."
            )
        variable.assign(weight_maps.hf_to_keras(value, transform, variable.shape))


def backbone_to_hf_tensors(backbone, prefix=""):
    """Our backbone's weights as an HF `ElectraModel` state dict (numpy, exact)."""
    variables = _variables_by_path(backbone)
    table = weight_maps.backbone_weight_table(
        backbone.num_layers, backbone.embeddings_project is not None)
    return {prefix + h: weight_maps.keras_to_hf(_numpy(variables[p]), t) for h, p, t in table}


def backbone_from_hf(path, load_weights=True, embeddings=None, **kwargs):
    """An `ElectraBackbone` from an HF Electra dir, `hf://org/name` or an `HFCheckpoint`.

    `kwargs` override the converted config (e.g. `dropout=0.0`, `dtype=...`).
    With `embeddings=` (a discriminator's `ElectraEmbedding`), the shared block
    is reused and only the private weights are loaded.
    """
    from keras_electra.models.electra_backbone import ElectraBackbone

    ckpt = load_hf_checkpoint(path)
    config = {**ckpt.backbone_config, **kwargs}
    backbone = ElectraBackbone(embeddings=embeddings, **config)
    if load_weights:
        tensors = ckpt.backbone_tensors()
        set_backbone_weights_from_hf(backbone, tensors,
                                     describe=lambda n: ckpt.describe(ckpt.prefix + n),
                                     skip_embeddings=embeddings is not None)
        if embeddings is not None:
            _warn_if_embeddings_differ(backbone, tensors, ckpt)
    return backbone


def _warn_if_embeddings_differ(backbone, tensors, ckpt):
    variables = _variables_by_path(backbone)
    differ = [h for h, p, t in weight_maps.EMBEDDING_WEIGHTS
              if h in tensors and not np.array_equal(
                  weight_maps.keras_to_hf(_numpy(variables[p]), t), tensors[h])]
    if differ:
        warnings.warn(
            f"{ckpt.path}: the shared embedding block was reused, but this checkpoint's own "
            f"{differ} differ from it; the shared values are kept (as in G, where the "
            "generator and discriminator share one embedding block)."
        )


# --------------------------------------------------------------------------- heads


def head_weights_from_hf_tensors(kind, tensors, describe=None):
    """HF head tensors -> numpy dict in Keras layout (keys of `weight_maps.HEAD_TABLES`)."""
    describe = describe or (lambda n: f"tensor {n!r}")
    table = weight_maps.HEAD_TABLES[kind]
    missing = [h for h, _, _ in table if h not in tensors]
    if missing:
        raise ValueError(f"{describe(missing[0])}: missing; the {kind} head needs {missing}.")
    out = {}
    for hf_name, key, transform in table:
        value = np.asarray(tensors[hf_name])
        shape = value.shape[::-1] if transform == "kernel" else value.shape
        out[key] = weight_maps.hf_to_keras(value, transform, shape)
    return out


def head_weights_to_hf_tensors(kind, weights):
    """Inverse of `head_weights_from_hf_tensors` (exact)."""
    return {hf_name: weight_maps.keras_to_hf(weights[key], transform)
            for hf_name, key, transform in weight_maps.HEAD_TABLES[kind]}


def hf_head_weights(path, kind):
    """Head weights of `kind` ("discriminator", "generator", "qa") as a Keras-layout dict."""
    ckpt = load_hf_checkpoint(path)
    if kind not in ckpt.heads:
        raise ValueError(
            f"{ckpt.path}: no {kind} head in this checkpoint ({ckpt.model_class}; heads present: "
            f"{list(ckpt.heads) or 'none'}). The {kind} head comes with "
            f"{_HEAD_CLASS[kind]}."
        )
    if kind == "generator":
        _check_tied_lm_head(ckpt)
    return head_weights_from_hf_tensors(kind, ckpt.tensors, describe=ckpt.describe)


_HEAD_CLASS = {e.kind: e.model_class for e in weight_maps.HF_HEAD_EXPORTS}


def _check_tied_lm_head(ckpt):
    lm = ckpt.tensors.get(weight_maps.HF_TIED_LM_WEIGHT)
    word = ckpt.tensors.get(ckpt.prefix + "embeddings.word_embeddings.weight")
    if lm is not None and word is not None and not np.array_equal(lm, word):
        warnings.warn(
            f"{ckpt.describe(weight_maps.HF_TIED_LM_WEIGHT)} differs from the word embeddings "
            "(untied LM head); the generator head here is tied to the word embeddings as in "
            "google-research/electra, so that matrix is not used."
        )


def hf_discriminator_head_weights(path):
    """`{"dense/kernel" [H,H], "dense/bias", "dense_prediction/kernel" [H,1], "dense_prediction/bias"}`."""
    return hf_head_weights(path, "discriminator")


def hf_generator_head_weights(path):
    """`{"intermediate_dense/kernel" [H,E], "intermediate_dense/bias", "intermediate_layer_norm/gamma",
    "intermediate_layer_norm/beta", "output_bias" [V]}` (output projection = tied word embeddings)."""
    return hf_head_weights(path, "generator")


def hf_qa_weights(path):
    """`{"kernel" [H,2], "bias" [2]}` of HF `qa_outputs` (start = column 0, end = column 1)."""
    return hf_head_weights(path, "qa")


# --------------------------------------------------------------------------- tokenizer


def read_hf_vocabulary(path):
    """The WordPiece vocabulary of an HF dir (vocab.txt or tokenizer.json), or None."""
    directory = resolve_hf_path(path)
    vocab_txt = os.path.join(directory, "vocab.txt")
    if os.path.isfile(vocab_txt):
        return vocab_txt
    tok_json = os.path.join(directory, "tokenizer.json")
    if os.path.isfile(tok_json):
        with open(tok_json, encoding="utf-8") as f:
            vocab = json.load(f).get("model", {}).get("vocab")
        if isinstance(vocab, dict):
            return [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    return None


def tokenizer_from_hf(path):
    """An `ElectraTokenizer` from the vocab of an HF dir (uncased conventions), or None."""
    vocabulary = read_hf_vocabulary(path)
    if vocabulary is None:
        return None
    from keras_electra.models.electra_tokenizer import ElectraTokenizer

    return ElectraTokenizer(vocabulary=vocabulary)


# --------------------------------------------------------------------------- export


def export_backbone_to_hf(backbone, out_dir, model_class="ElectraModel", heads=None,
                          vocabulary=None):
    """Write `config.json` + `model.safetensors` that transformers' `from_pretrained` loads.

    Args:
        backbone: an `ElectraBackbone`.
        out_dir: output directory (created).
        model_class: one of `MODEL_CLASSES`.
        heads: dict kind -> head weights dict (`hf_*_head_weights` format);
            "discriminator" for ElectraForPreTraining, "generator" for
            ElectraForMaskedLM, "qa" for ElectraForQuestionAnswering.
        vocabulary: optional vocab list / vocab.txt path, written as vocab.txt.

    Returns:
        `out_dir`.
    """
    from safetensors.numpy import save_file

    if model_class not in MODEL_CLASSES:
        raise ValueError(f"model_class must be one of {MODEL_CLASSES}, got {model_class!r}.")
    heads = dict(heads or {})
    needed = _CLASS_HEAD.get(model_class)
    if needed and needed not in heads:
        raise ValueError(f"export as {model_class} needs heads={{'{needed}': ...}}.")
    prefix = "" if model_class == "ElectraModel" else "electra."
    tensors = backbone_to_hf_tensors(backbone, prefix=prefix)
    if needed:
        tensors.update(head_weights_to_hf_tensors(needed, heads[needed]))
    os.makedirs(out_dir, exist_ok=True)
    config = backbone_config_to_hf_config(backbone.get_config(), model_class)
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    save_file(tensors, os.path.join(out_dir, SAFETENSORS_FILE), metadata={"format": "pt"})
    # safetensors writes through a private temporary file (mode 0600): give it the umask's
    # permissions, as every other file here, so another user (a serving container) can read it
    from keras_electra.utils.output_dirs import apply_umask

    apply_umask(os.path.join(out_dir, SAFETENSORS_FILE))
    if vocabulary is not None:
        if isinstance(vocabulary, str):
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = [line.rstrip("\n") for line in f]
        with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(vocabulary) + "\n")
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump({"tokenizer_class": "ElectraTokenizer", "do_lower_case": True,
                       "strip_accents": None, "model_max_length": config[
                           "max_position_embeddings"]}, f, indent=2)
    return out_dir
