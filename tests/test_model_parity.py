"""Our JAX Qwen forward and its gradients equal transformers' PyTorch forward and autograd on tiny
random checkpoints, up to float32 rounding."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from codegym_jax.models import hf_io, qwen
from model_fixtures import make_hf_model, padded_batch
from tolerances import assert_within_rounding, forward_terms, gradient_terms, rounding_bound

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


def _targets_and_weights(tokens, segments, seed=1):
    """Next-token targets and random per-token weights, zero where the target is not in the
    token's own sequence (padding either side)."""
    targets = np.roll(tokens, -1, axis=1)
    real = (segments != 0) & (np.roll(segments, -1, axis=1) == segments)
    real[:, -1] = False
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, tokens.shape) * real
    return targets, weights.astype(np.float32)


def torch_gradients(folder, tokens, positions, segments, targets, weights):
    """{HF name: gradient} of sum(weights * log p(target)) and of sum(weights * entropy)."""
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    model.train()
    out = model(input_ids=torch.tensor(tokens, dtype=torch.long),
                attention_mask=torch.tensor(segments != 0, dtype=torch.long),
                position_ids=torch.tensor(positions, dtype=torch.long))
    logp_all = torch.log_softmax(out.logits, -1)
    logp = torch.gather(logp_all, -1, torch.tensor(targets, dtype=torch.long)[..., None])[..., 0]
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    w = torch.tensor(weights)
    (torch.sum(w * logp) + 0.3 * torch.sum(w * entropy)).backward()
    return {name: p.grad.numpy() for name, p in model.named_parameters()}


@pytest.mark.parametrize("family, tied", [("qwen2", False), ("qwen3", True)], ids=["qwen2-untied", "qwen3-tied"])
def test_gradients_match_transformers(tmp_path, family, tied):
    """The hand-written backward passes (attention, log-probs and entropy) against torch autograd
    of the same forward, on a padded batch (left padding gives fully masked query rows)."""
    from codegym_jax.rl import logprobs

    folder = make_hf_model(tmp_path / "m", family, tied)
    cfg, params = hf_io.load_hf_model(folder)
    tokens, positions, segments = padded_batch(cfg.vocab_size)
    targets, weights = _targets_and_weights(tokens, segments)

    def objective(params):
        logits, _ = qwen.forward(params, cfg, jnp.asarray(tokens), jnp.asarray(positions), jnp.asarray(segments))
        logp, entropy = logprobs.logprobs_from_logits(logits, jnp.asarray(targets))
        return jnp.sum(weights * logp) + 0.3 * jnp.sum(weights * entropy)

    ours = dict(hf_io.hf_state_dict(cfg, jax.grad(objective)(params)))
    ref = torch_gradients(folder, tokens, positions, segments, targets, weights)
    assert set(ours) == set(ref)
    # Each gradient: the forward's chain and back, summed over every weighted target token
    # (weights <= 1.5), against the largest gradient entry.
    scale = 1.5 * max(float(np.abs(g).max()) for g in ref.values())
    bound = rounding_bound(gradient_terms(cfg, tokens.shape[1], int((weights > 0).sum())), scale)
    for name, g in ref.items():
        err = float(np.abs(ours[name] - g).max())
        assert err <= bound, f"{name}: gradient differs from torch by {err:.3g} > {bound:.3g}"
