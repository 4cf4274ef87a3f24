"""Model FLOPs of ELECTRA pretraining, counted exactly as google-research/electra does.

A re-implementation of G's `flops_computation.py` (`TransformerHparams`,
`get_electra_train_flops`) with its conventions kept on purpose, so MFU numbers
are comparable with the paper's compute column:

* a matmul is 2*m*n*k; an exp, add or compare is 1 FLOP;
* backward = forward, so training = 2 x forward (the common "6ND" convention
  would be 3 x forward; `TRAIN_MULTIPLIER_6ND` gives that variant);
* embedding lookups are dense (one-hot matmuls);
* the generator's output softmax runs on `output_frac` = 0.15625 of the tokens;
* G's constant for the attention-output LayerNorm is not multiplied by H
  (kept as in G; it changes the total by < 0.01 %).

Example:
    >>> from electra_flops import electra_train_flops
    >>> f"{electra_train_flops(768, 12, 256, 12, 256, 766000):.2e}"  # paper Table 1: 6.4e19
    '6.42e+19'

G's script gives 1.29e18 for ELECTRA-Small (paper: 1.4e18), 6.42e19 for Base
(paper 6.4e19) and 7.12e20 for ELECTRA-400K (paper 7.1e20); this module gives
the same numbers as G's script (checked digit for digit).
"""

DROPOUT_FLOPS = 4
LAYER_NORM_FLOPS = 5
ACTIVATION_FLOPS = 8
SOFTMAX_FLOPS = 5
TRAIN_MULTIPLIER_G = 2  # G: forward + backward, backward counted as one forward
TRAIN_MULTIPLIER_6ND = 3  # forward + backward counted as two forwards


class TransformerFlops:
    """Forward FLOPs of one BERT-style transformer (G `TransformerHparams`)."""

    def __init__(self, h, num_layers, s=512, v=30522, e=None, i=None, heads=None,
                 output_frac=0.15625):
        self.h, self.num_layers, self.s, self.v = h, num_layers, s, v
        self.e = h if e is None else e
        self.i = 4 * h if i is None else i
        self.heads = max(h // 64, 1) if heads is None else heads
        self.output_frac = output_frac

    def block(self):
        h, s, i, heads = self.h, self.s, self.i, self.heads
        per_token = (
            3 * 2 * h * h + 3 * h                       # q, k, v kernels + biases
            + 2 * h * s                                 # attention scores
            + (SOFTMAX_FLOPS + DROPOUT_FLOPS + 1) * s * heads  # softmax, dropout, scale
            + 2 * h * s                                 # weighted sum of values
            + 2 * h * h + h + DROPOUT_FLOPS * h + h     # output proj, bias, dropout, residual
            + LAYER_NORM_FLOPS                          # (G: not times h)
            + 2 * h * i + ACTIVATION_FLOPS * i + i      # intermediate + GELU + bias
            + 2 * h * i + h + DROPOUT_FLOPS * h + h     # output + bias + dropout + residual
            + LAYER_NORM_FLOPS * h
        )
        return per_token * s

    def embedding(self):
        e, h, s = self.e, self.h, self.s
        per_token = (2 * e * self.v                    # dense one-hot lookup
                     + 2 * e * (s + 2) + 2 * e         # token type + position, add
                     + LAYER_NORM_FLOPS * e + DROPOUT_FLOPS * e)
        if e != h:
            per_token += 2 * h * e + h                 # embeddings_project
        return per_token * s

    def mlm_output(self):
        e, h, v = self.e, self.h, self.v
        per_token = (2 * e * v + 2 * h * e + e + ACTIVATION_FLOPS * e + LAYER_NORM_FLOPS * e
                     + SOFTMAX_FLOPS * v + 2 * v)
        return self.output_frac * per_token * self.s

    def binary_head(self):
        h = self.h
        return (2 * h * h + h + ACTIVATION_FLOPS * h + 2 * h) * self.s

    def forward(self, discriminator):
        head = self.binary_head() if discriminator else self.mlm_output()
        return self.num_layers * self.block() + self.embedding() + head


def electra_train_flops(h_d, l_d, h_g, l_g, batch_size, train_steps, tied_embeddings=True,
                        e=None, s=512, output_frac=0.15625, multiplier=TRAIN_MULTIPLIER_G):
    """G `get_electra_train_flops`: discriminator + generator training FLOPs."""
    e = h_d if e is None else e
    disc = TransformerFlops(h_d, l_d, s=s, e=e, output_frac=output_frac).forward(True)
    gen = TransformerFlops(h_g, l_g, s=s, e=e if tied_embeddings else None,
                           output_frac=output_frac).forward(False)
    return multiplier * batch_size * train_steps * (disc + gen)


def step_flops(disc_config, gen_config, batch_size, seq_length, multiplier=TRAIN_MULTIPLIER_G):
    """FLOPs of one pretraining step for keras-electra backbone config dicts."""
    return electra_train_flops(
        disc_config["hidden_dim"], disc_config["num_layers"], gen_config["hidden_dim"],
        gen_config["num_layers"], batch_size, 1, True, e=disc_config["embedding_dim"],
        s=seq_length, multiplier=multiplier,
    )
