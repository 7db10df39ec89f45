"""Our JAX Qwen forward equals transformers' PyTorch forward on tiny random checkpoints, up to a
float32 forward's rounding."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from codegym_jax.models import hf_io, qwen
from model_fixtures import make_hf_model, padded_batch
from tolerances import assert_within_rounding, forward_terms

torch = pytest.importorskip("torch")


def torch_logits(folder, tokens, positions, segments):
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        out = model(
            input_ids=torch.tensor(tokens, dtype=torch.long),
            attention_mask=torch.tensor(segments != 0, dtype=torch.long),
            position_ids=torch.tensor(positions, dtype=torch.long),
        )
    return out.logits.numpy()


@pytest.mark.parametrize(
    "family, tied, extra",
    [
        ("qwen2", False, {}),
        ("qwen2", True, {}),
        ("qwen3", False, {}),
        ("qwen2", False, {"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}}),
        ("qwen3", True, {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0,
                                             "original_max_position_embeddings": 64}}),
    ],
    ids=["qwen2-untied", "qwen2-tied", "qwen3", "qwen2-linear-rope", "qwen3-tied-yarn"],
)
def test_logits_match_transformers(tmp_path, family, tied, extra):
    folder = make_hf_model(tmp_path / "m", family, tied, **extra)
    cfg, params = hf_io.load_hf_model(folder)
    assert cfg.family == family and cfg.tie_word_embeddings == tied
    assert ("lm_head" in params) == (not tied)
    tokens, positions, segments = padded_batch(cfg.vocab_size)
    ours, _ = qwen.forward(params, cfg, jnp.asarray(tokens), jnp.asarray(positions), jnp.asarray(segments))
    ref = torch_logits(folder, tokens, positions, segments)
    real = segments != 0
    assert_within_rounding(np.asarray(ours)[real], ref[real], forward_terms(cfg, tokens.shape[1]), what="logits")
