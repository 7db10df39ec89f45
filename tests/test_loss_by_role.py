"""The loss-by-role diagnostic: call spans, token roles on a real transcript, and the aggregation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from codegym_jax.rollout import tokenizer as tk
from codegym_jax.rollout.chat_format import decode
from codegym_jax.rollout.tool_calls import format_call
from experiments.research.loss_by_role import SYNTAX, TOOL_NAME, call_roles, loss_by_role, token_roles
from transcript_fixtures import library_transcript


@pytest.mark.parametrize("fmt", ["codegym", "native"])
def test_call_roles_cover_the_name_and_each_value_exactly(fmt):
    args = {"text": 'a "quoted", {tricky}: value', "pairs": [[1, -2], [3, 4]], "k": -7, "flag": True,
            "nested": {"x": "y"}}
    text = format_call("Lookup", args, fmt)
    spans = call_roles(text)
    assert [r for _, _, r in spans] == [TOOL_NAME] + [f"arg:{k}" for k in args]
    assert text[spans[0][0]:spans[0][1]] == "Lookup"
    for (start, end, role), value in zip(spans[1:], args.values()):
        shown = json.dumps(value)[1:-1] if isinstance(value, str) else json.dumps(value)
        assert text[start:end] == shown, role


def test_call_roles_of_text_that_is_not_a_call():
    assert call_roles("I think the answer is 4") == []
    assert call_roles('[{"name": "Done", "parameters": "oops"}]') == [(11, 15, TOOL_NAME)]
    broken = '[{"name": "Done", "parameters": {"answer": tru, "b": 1}}]'
    assert call_roles(broken) == [(11, 15, TOOL_NAME)]
    assert call_roles('[{"name": "Do') == []


def test_token_roles_label_every_sampled_token_of_an_oracle_transcript():
    tokenizer = tk.load(str(tk.SHIPPED_DIR))
    actions = [{"name": "CharAt", "parameters": {"string_index": 1, "position": 0}},
               {"name": "ExtendPrefix", "parameters": {"char": "b"}},
               {"name": "Done", "parameters": {"answer": "b"}}]
    traj = library_transcript(tokenizer, "LongestCommonPrefixEnv", {"strings": ["ba", "bc"]}, actions,
                              ['"b"', '"b"', "done"])
    roles = token_roles(tokenizer, traj)
    assert [r is not None for r in roles] == [bool(m) for m in traj.loss_mask]

    def text_of(role):
        return decode(tokenizer, [int(t) for t, r in zip(traj.tokens, roles) if r == role]).replace(" ", "")

    # Quotes are syntax: the roles hold what the policy has to choose.
    assert text_of(TOOL_NAME) == "CharAtExtendPrefixDone"
    assert text_of("arg:string_index") == "1" and text_of("arg:position") == "0"
    assert text_of("arg:char") == "b" and text_of("arg:answer") == "b"
    assert "<|im_end|>" in text_of(SYNTAX)


def test_loss_by_role_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    logp = -rng.exponential(1.0, size=(3, 7))
    names = ["a", "b", None]
    roles = [[names[i] for i in rng.integers(0, 3, size=7)] for _ in range(3)]
    out = loss_by_role(logp, roles)
    total = -sum(logp[b, t] for b in range(3) for t in range(7) if roles[b][t] is not None)
    for role in ("a", "b"):
        values = np.array([-logp[b, t] for b in range(3) for t in range(7) if roles[b][t] == role])
        assert out[role]["tokens"] == values.size
        np.testing.assert_allclose(out[role]["mean_nll"], values.mean(), rtol=1e-6)
        np.testing.assert_allclose(out[role]["share"], values.sum() / total, rtol=1e-6)
        assert out[role]["predicted"] == pytest.approx(np.mean(np.exp(-values) >= 0.5))
    assert None not in out and list(out) == sorted(out, key=lambda r: -out[r]["share"])
