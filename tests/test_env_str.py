import json

import pytest
from hypothesis import given, strategies as st

from codegym_jax.envs.env_str import format_env_str, parse_env_str


def test_parses_json_payload_containing_at_signs():
    name, params = parse_env_str('MailEnv@{"to": "a@b.c", "n": 2, "tags": ["x@y"]}')
    assert name == "MailEnv"
    assert params == {"to": "a@b.c", "n": 2, "tags": ["x@y"]}


def test_parses_python_literal_payload_like_upstream():
    assert parse_env_str("GridEnv@{'grid': [[1, 0]], 'ok': True, 'k': None}") == (
        "GridEnv", {"grid": [[1, 0]], "ok": True, "k": None})


@pytest.mark.parametrize("bad", [
    "NoSeparator", "Bad Name@{}", "1Env@{}", "@{}", "Env@[1, 2]", "Env@{'a': foo()}", "Env@{",
    "Env@__import__('os')", "Env@", 'Env@{"a": 1}@{"b": 2}',
])
def test_rejects_malformed(bad):
    with pytest.raises(ValueError):
        parse_env_str(bad)


def test_rejects_non_string():
    with pytest.raises(ValueError, match="must be a str"):
        parse_env_str(b"Env@{}")


def test_format_rejects_bad_name_and_params():
    with pytest.raises(ValueError):
        format_env_str("not an id", {})
    with pytest.raises(ValueError):
        format_env_str("Env", [1])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10)


@given(name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
       params=st.dictionaries(st.text(max_size=6), json_values, max_size=4))
def test_round_trip(name, params):
    env_str = format_env_str(name, params)
    assert parse_env_str(env_str) == (name, params)
    # the payload is plain JSON, so non-Python readers can parse it too
    assert json.loads(env_str.split("@", 1)[1]) == params
