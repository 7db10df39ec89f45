"""Tiny random HF Qwen models made with transformers, for parity and I/O tests."""
from __future__ import annotations

import pathlib

import numpy as np

TINY = dict(
    vocab_size=96,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    rms_norm_eps=1e-6,
)


def make_hf_model(folder: pathlib.Path, family: str = "qwen2", tied: bool = False, seed: int = 0,
                  **overrides) -> pathlib.Path:
    """Saves a random transformers model (weights perturbed off their init) to `folder`."""
    import torch
    import transformers

    torch.manual_seed(seed)
    kwargs = {**TINY, "tie_word_embeddings": tied, **overrides}
    if family == "qwen2":
        config = transformers.Qwen2Config(**kwargs)
        model = transformers.Qwen2ForCausalLM(config)
    else:
        kwargs.setdefault("head_dim", 16)
        config = transformers.Qwen3Config(**kwargs)
        model = transformers.Qwen3ForCausalLM(config)
    with torch.no_grad():
        # Norm weights init to 1 and biases to 0; randomise them so parity covers every tensor.
        for name, p in model.named_parameters():
            if "norm" in name or "bias" in name:
                p.add_(0.1 * torch.randn_like(p))
    model.eval()
    model.save_pretrained(str(folder))
    return folder


def padded_batch(vocab: int, seed: int = 0):
    """tokens, positions, segment ids (0 = pad) and the torch attention mask for a padded batch."""
    rng = np.random.default_rng(seed)
    lengths = [12, 7, 9]
    left_pad = [False, False, True]
    width = max(lengths)
    tokens = np.zeros((3, width), np.int32)
    segments = np.zeros((3, width), np.int32)
    positions = np.zeros((3, width), np.int32)
    for b, (n, left) in enumerate(zip(lengths, left_pad)):
        start = width - n if left else 0
        tokens[b, start:start + n] = rng.integers(1, vocab, n)
        segments[b, start:start + n] = 1
        positions[b, start:start + n] = np.arange(n)
    return tokens, positions, segments


def hf_logprob_rows(hf_model, tokens, temperature: float = 1.0):
    """transformers' log_softmax(logits / T) rows [len(tokens), vocab] over one teacher-forced
    forward (row i predicts tokens[i + 1]), and the largest |logit / T| (a rounding bound's scale)."""
    import torch

    with torch.no_grad():
        logits = hf_model(torch.tensor([list(tokens)])).logits[0].double() / temperature
    return torch.log_softmax(logits, -1).numpy(), float(logits.abs().max())
