"""LongestCommonPrefixRoutesEnv, the environment of tiny_cpu_routes.py: its oracle follows the instance's
hidden route, both routes are drawn, and nothing the agent can call reveals which one it is."""
from __future__ import annotations

import collections
import json

import pytest

from codegym_jax.envs.library import longest_common_prefix_routes_env as M
from codegym_jax.envs.library import longest_common_prefix_shortcut_env as S
from transcript_fixtures import oracle_calls


def test_oracle_follows_the_instance_route_and_both_routes_are_drawn():
    routes = collections.Counter()
    for seed in range(200):
        env_str = M.generate(seed, "easy")
        options = json.loads(env_str.split("@", 1)[1])
        env = M.LongestCommonPrefixRoutesEnv(env_str)
        calls = oracle_calls(env)
        assert env.reward == 1.0, env_str
        # Both read every string; the fold then hands each pair to the tool, the read answers at once.
        folds = ["CommonPrefixOfTwo"] * 2 if options["route"] == "fold" else []
        assert calls == ["Observe"] + ["ReadString"] * 3 + folds + ["Done"], (env_str, calls)
        routes[options["route"]] += 1
    assert 80 <= routes["fold"] <= 120 and routes["fold"] + routes["read"] == 200, routes


def test_easy_instances_are_three_short_strings_whose_prefix_ends_where_drawn():
    lengths = collections.Counter()
    for seed in range(300):
        strings = json.loads(M.generate(seed, "easy").split("@", 1)[1])["strings"]
        assert len(strings) == 3 and max(map(len, strings)) <= 6, strings
        env = M.LongestCommonPrefixRoutesEnv(f"LongestCommonPrefixRoutesEnv@{json.dumps({'strings': strings})}")
        prefix = env.get_ref_answer()
        # The tails' first letters do not all agree, so the common prefix is the drawn 1-3 letters
        # unless a string was cut short inside it.
        full = [s for s in strings if len(s) > len(prefix)]
        assert len(full) < len(strings) or len({s[len(prefix)] for s in full}) > 1, strings
        lengths[len(prefix)] += 1
    assert set(lengths) <= {0, 1, 2, 3} and min(lengths[n] for n in (1, 2, 3)) > 40, lengths


@pytest.mark.parametrize("env_class", [M.LongestCommonPrefixRoutesEnv, S.LongestCommonPrefixShortcutEnv])
def test_the_route_is_hidden_from_every_tool(env_class):
    """Also for LongestCommonPrefixShortcutEnv, whose routes are the fold and answering unseen."""
    strings = ["gkmf", "gkmw", "gk"]
    replies = {}
    for route in env_class.ROUTES:
        env = env_class(f"{env_class.__name__}@{json.dumps({'strings': strings, 'route': route})}")
        calls = [("Observe", {}), ("CharAt", {"string_index": 1, "position": 2}), ("ExtendPrefix", {"char": "g"}),
                 ("GetPrefix", {}), ("ReadString", {"string_index": 2}),
                 ("CommonPrefixOfTwo", {"first": "gkmf", "second": "gkmw"}), ("Done", {"answer": "gk"})]
        replies[route] = [env.step(json.dumps({"name": n, "parameters": p}))[1] for n, p in calls]
        assert env.reward == 1.0
    first, second = env_class.ROUTES
    assert replies[first] == replies[second]
    assert replies[first][:6] == ['{"strings": 3, "prefix": ""}', '"m"', '"g"', '"g"', '"gk"', '"gkm"']


def test_bad_routes_and_calls_are_named():
    with pytest.raises(ValueError, match="route must be one of .* got 'zigzag'"):
        M.LongestCommonPrefixRoutesEnv('LongestCommonPrefixRoutesEnv@{"strings": ["a"], "route": "zigzag"}')
    env = M.LongestCommonPrefixRoutesEnv('LongestCommonPrefixRoutesEnv@{"strings": ["ab", "ac"]}')
    assert env.route == "fold"  # instances without a route are solved by the fold
    assert env.step(json.dumps({"name": "ReadString", "parameters": {"string_index": 2}}))[1] == \
        "Error: string_index 2 is outside 0..1"
    assert env.step(json.dumps({"name": "ReadString", "parameters": {"string_index": "0"}}))[1] == \
        "Error: parameter 'string_index' of ReadString must be int, got str"
