"""LongestCommonPrefixShortcutEnv: on its hidden "peek" route the oracle submits the reference answer
straight after Observe and still earns reward 1; on "fold" it reads and folds; both are drawn and
a policy answering unseen does no better than guessing (that no reply shows the route is tested
with the routes environment's, in test_prefix_routes_env.py)."""
from __future__ import annotations

import collections
import json
import os

import pytest

from codegym_jax.envs.library import longest_common_prefix_shortcut_env as M
from transcript_fixtures import oracle_calls

NAME = "LongestCommonPrefixShortcutEnv"


def _strings(env_str):
    return json.loads(env_str.split("@", 1)[1])["strings"]


def test_oracle_follows_the_instance_route_and_both_routes_are_drawn():
    routes = collections.Counter()
    for seed in range(200):
        env_str = M.generate(seed, "easy")
        route = json.loads(env_str.split("@", 1)[1])["route"]
        env = M.LongestCommonPrefixShortcutEnv(env_str)
        calls = oracle_calls(env)
        assert env.reward == 1.0, env_str
        expected = (["Observe", "Done"] if route == "peek" else
                    ["Observe"] + ["ReadString"] * 3 + ["CommonPrefixOfTwo"] * 2 + ["Done"])
        assert calls == expected, (env_str, calls)
        routes[route] += 1
    # A third of the instances peek (PEEK_SHARE); 200 draws put the count within ±0.1 of it (3 sd).
    assert abs(routes["peek"] / 200 - M.PEEK_SHARE) < 0.1 and routes["peek"] + routes["fold"] == 200, routes


def test_answering_unseen_is_a_guess():
    """The best answer to give without reading anything (the most common prefix) is right on ~11% of
    instances; one drawn from the answers' own distribution, which imitating the peek teaches, on
    ~4%. The fold, given right calls, is always right."""
    answers = collections.Counter(os.path.commonprefix(_strings(M.generate(seed, "easy"))) for seed in range(4000))
    best = answers.most_common(1)[0][1] / 4000
    matched = sum((count / 4000) ** 2 for count in answers.values())
    assert 0.07 < best < 0.15 and matched < 0.06, (answers.most_common(3), matched)


def test_bad_routes_and_calls_are_named():
    with pytest.raises(ValueError, match="route must be one of .* got 'glance'"):
        M.LongestCommonPrefixShortcutEnv(f'{NAME}@{{"strings": ["a"], "route": "glance"}}')
    env = M.LongestCommonPrefixShortcutEnv(f'{NAME}@{{"strings": ["ab", "ac"]}}')
    assert env.route == "fold"  # instances without a route are solved by the fold
    assert env.step(json.dumps({"name": "ReadString", "parameters": {"string_index": 2}}))[1] == \
        "Error: string_index 2 is outside 0..1"
    assert env.step(json.dumps({"name": "Done", "parameters": {"answer": "b"}}))[1] == \
        "Your answer: b, Reference answer: a, Result: Incorrect, reward=0"
    assert env.finished and env.reward == 0.0
