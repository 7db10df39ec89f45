"""docs/reusing_the_losses.py: it runs as a script, and its GRPO / GSPO losses are the clipped
objective computed independently in NumPy (float64) on the same arrays."""
from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tolerances import assert_within, rounding_bound

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "reusing_the_losses.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("reusing_the_losses", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.main()


def numpy_clipped_loss(logp, old, adv, mask, kind, clip=0.2):
    """(token-mean of max(-A r, -A clip(r, 1 - clip, 1 + clip)), max |per-token loss|, clip
    fraction); r per token (ppo) or the length-normalised sequence ratio (gspo)."""
    logp, old, adv, mask = (np.asarray(x, np.float64) for x in (logp, old, adv, mask))
    log_ratio = (logp - old) * mask
    if kind == "gspo":
        log_ratio = np.repeat(log_ratio.sum(1, keepdims=True) / mask.sum(1, keepdims=True), mask.shape[1], 1)
    ratio = np.exp(log_ratio)
    clipped = -adv * np.clip(ratio, 1 - clip, 1 + clip)
    per_token = np.maximum(-adv * ratio, clipped)
    clip_fraction = float(((clipped > -adv * ratio) * mask).sum() / mask.sum())
    return float((per_token * mask).sum() / mask.sum()), float(np.abs(per_token).max()), clip_fraction


def test_runs_as_a_script(tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "grpo loss per step:" in out.stdout and "gspo loss per step:" in out.stdout


@pytest.mark.parametrize("kind", ["grpo", "gspo"])
def test_losses_are_the_clipped_objective(example, kind):
    module, got = example
    b, res = got["batch"], got["results"][kind]
    mask, adv, old = b["mask"], b["advantages"], b["old_logp"]
    assert 0 < mask.sum() < mask.size and np.abs(adv).max() > 0.5  # ragged lengths, informative groups
    n = int(mask.size)
    # Every step's loss against NumPy on that step's log-probs: a float32 sum of n per-token terms
    # (each a few rounded operations, the sequence ratio a sum over the row) and one division.
    for step, (loss, logp) in enumerate(zip(res["losses"], res["logps"])):
        want, scale, clip_fraction = numpy_clipped_loss(logp, old, adv, mask, "gspo" if kind == "gspo" else "ppo")
        assert_within(loss, want, rounding_bound(n + module.LENGTH + 8, scale), f"{kind} step {step}")
    # At the first step the policy is the sampler's: its log-probs are the old ones up to two
    # logits' rounding (a DIM-term product, a VOCAB-term log-sum-exp), so the ratio is 1 and the
    # loss is minus the advantages' token mean.
    logit_scale = float(np.abs(got["params"]["out"]).sum(0).max())
    logp_bound = 2 * rounding_bound(module.DIM + module.VOCAB + 4, logit_scale)
    assert_within(res["logps"][0], old, logp_bound, "first step's log-probs")
    adv_max = float(np.abs(adv).max())
    minus_mean_adv = -float((adv * mask).sum() / mask.sum())
    first_bound = rounding_bound(n + 8, adv_max) + adv_max * np.expm1(logp_bound)
    assert_within(res["losses"][0], minus_mean_adv, first_bound, f"{kind} first loss")
    # The optax updates move the policy: by the last step some ratios are past the clip range
    # (the NumPy check above covered the clipped branch), and the loss on the rollout fell.
    assert clip_fraction > 0, f"{kind}: no ratio clipped at the last step"
    assert res["losses"][-1] < res["losses"][1] < res["losses"][0] - 100 * first_bound
