"""Released-weight sources for the `pretrain --init_from` tests, built locally (no download):
a tiny HF ElectraForPreTraining + ElectraForMaskedLM pair, the same pair as a
google-research/electra TF1 checkpoint, and a keras-hub preset pair, all on the vocabulary of
`pretrain_shards.write_vocab`; plus shards with a `prepare` manifest recording a vocabulary."""

import json
import os
import shutil
import sys

import numpy as np
from pretrain_shards import VOCAB_SIZE, write_shards, write_vocab

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "convert"))

# (vocab, embedding, hidden, layers, heads, intermediate, positions): heads = G's H // 64 rule,
# so a TF1 checkpoint (which holds no config) loads with the right head count
DISC = (VOCAB_SIZE, 16, 64, 2, 1, 96, 40)
GEN = (VOCAB_SIZE, 16, 32, 2, 1, 64, 40)


def _hf_config(sizes):
    import transformers

    v, e, h, n, heads, f, p = sizes
    return transformers.ElectraConfig(
        vocab_size=v, embedding_size=e, hidden_size=h, num_hidden_layers=n,
        num_attention_heads=heads, intermediate_size=f, max_position_embeddings=p,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def hf_pair(seed=0):
    """(ElectraForPreTraining, ElectraForMaskedLM) sharing one embedding block, as G's."""
    import torch
    import transformers

    torch.manual_seed(seed)
    disc = transformers.ElectraForPreTraining(_hf_config(DISC)).eval()
    gen = transformers.ElectraForMaskedLM(_hf_config(GEN)).eval()
    with torch.no_grad():
        for model in (disc, gen):  # non-trivial biases / LayerNorm params
            for name, param in model.named_parameters():
                if name.endswith("bias") or "LayerNorm" in name:
                    param.add_(0.1 * torch.randn_like(param))
        gen.electra.embeddings.load_state_dict(disc.electra.embeddings.state_dict())
        gen.generator_lm_head.weight = gen.electra.embeddings.word_embeddings.weight
    return disc, gen


def write_hf_pair(root, pair):
    """save_pretrained dirs `root/disc`, `root/gen` with vocab.txt; returns their paths."""
    paths = []
    for model, name in zip(pair, ("disc", "gen")):
        path = os.path.join(root, name)
        model.save_pretrained(path)
        write_vocab(os.path.join(path, "vocab.txt"))
        paths.append(path)
    return paths


def write_google_checkpoint(root, pair):
    """The pair as G's TF1 pretraining checkpoint `root/model.ckpt-7` (+ vocab.txt beside)."""
    from test_google_checkpoint import google_variables

    from keras_electra.convert import google

    os.makedirs(root, exist_ok=True)
    write_vocab(os.path.join(root, "vocab.txt"))
    return google.write_google_checkpoint(os.path.join(root, "model.ckpt-7"),
                                          google_variables(*pair))


def write_keras_hub_pair(root, seed=0):
    """keras-hub ElectraBackbone presets `root/disc`, `root/gen` (random weights, tokenizer on
    the test vocabulary); returns (paths, keras-hub backbones)."""
    import keras_hub

    os.makedirs(root, exist_ok=True)
    tokens = open(write_vocab(os.path.join(root, "vocab.txt")), encoding="utf-8").read().split()
    rng = np.random.RandomState(seed)
    paths, models = [], []
    for name, (v, e, h, n, heads, f, p) in (("disc", DISC), ("gen", GEN)):
        model = keras_hub.models.ElectraBackbone(
            vocab_size=v, num_layers=n, num_heads=heads, hidden_dim=h, embedding_dim=e,
            intermediate_dim=f, max_sequence_length=p)
        for variable in model.weights:
            variable.assign(rng.normal(size=variable.shape).astype("float32") * 0.1)
        path = os.path.join(root, name)
        model.save_to_preset(path)
        keras_hub.models.ElectraTokenizer(vocabulary=tokens).save_to_preset(path)
        paths.append(path)
        models.append(model)
    return paths, models


def write_prepared_shards(root, vocab_path, sequence_length=16, num_examples=24, seed=0):
    """`root/train` shards (+ `root/val`) with the `prepare` manifest beside them recording
    `vocab_path`'s sha256; returns `root`."""
    from keras_electra.data.vocab import load_vocabulary, vocabulary_fingerprint

    write_shards(os.path.join(root, "train"), num_examples=num_examples,
                 sequence_length=sequence_length, num_shards=2, seed=seed)
    write_shards(os.path.join(root, "val"), num_examples=8, sequence_length=sequence_length,
                 num_shards=1, seed=seed + 1)
    manifest = {"complete": True, "config": {
        "vocab_sha256": vocabulary_fingerprint(load_vocabulary(vocab_path)),
        "max_seq_length": sequence_length, "inputs": [["corpus.txt", 0]]}}
    with open(os.path.join(root, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    return root


def other_vocab(path):
    """A vocabulary of the same size whose words are spelled differently."""
    write_vocab(path)
    tokens = open(path, encoding="utf-8").read().split("\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(t.replace("w", "x", 1) if t.startswith("w") else t for t in tokens))
    return path


def copy_tree(src, dst):
    shutil.copytree(src, dst)
    return dst
