"""The shipped base model of the README default: it is what its recipe says, it never saw the
environments the default trains or evaluates on, and it already writes tool calls."""
from __future__ import annotations

import dataclasses
import json
import pathlib

import jax
import numpy as np

from codegym_jax.envs.env_str import parse_env_str
from codegym_jax.envs.library import library_env_files
from codegym_jax.envs.tasks import DIFFICULTIES
from codegym_jax.models import qwen
from codegym_jax.models.config import decoder_config_from_hf
from codegym_jax.models.hf_io import load_hf_model
from codegym_jax.rl import batches, logprobs
from codegym_jax.rollout import tokenizer as tk
from experiments.configs import tiny_base, tiny_cpu, tiny_cpu_routes, tiny_cpu_scan
from experiments.research.loss_by_role import SYNTAX, token_roles
from sandbox.pool import SandboxPool
from transcript_fixtures import library_transcript

BASE_DIR = pathlib.Path(tiny_cpu.BASE_MODEL_DIR)


def test_readme_default_starts_from_the_shipped_base():
    assert tiny_cpu.get_config().model.hf_path == str(BASE_DIR)
    assert (BASE_DIR / "model.safetensors").is_file() and (BASE_DIR / "config.json").is_file()


def test_shipped_base_has_its_recipes_architecture_and_the_shipped_tokenizer():
    recipe = tiny_base.get_config().model.architecture
    arch = decoder_config_from_hf(BASE_DIR)
    # Every architecture field as the recipe declares it; the vocabulary is the tokenizer's.
    assert recipe.vocab_size == 0 and dataclasses.replace(recipe, vocab_size=arch.vocab_size) == arch
    assert arch.vocab_size == 2048 and arch.tie_word_embeddings
    for name in ("tokenizer.json", "chat_template.jinja"):
        assert (BASE_DIR / name).read_bytes() == (tk.SHIPPED_DIR / name).read_bytes(), name
    shipped, base = tk.load(str(tk.SHIPPED_DIR)), tk.load(str(BASE_DIR))
    assert (base.eos_token, base.pad_token) == (shipped.eos_token, shipped.pad_token)


def test_base_never_saw_what_the_default_trains_or_evaluates_on():
    """Nor what tiny_cpu_scan and tiny_cpu_routes train on."""
    default = tiny_cpu.get_config().data
    base = tiny_base.get_config().data
    library = set(library_env_files())
    assert set(base.train_envs) <= library
    trained = {name for config in (tiny_cpu, tiny_cpu_scan, tiny_cpu_routes)
               for name in config.get_config().data.train_envs}
    assert not set(base.train_envs) & (trained | set(default.heldout_envs))
    assert base.heldout_envs == default.heldout_envs


def _lcp_transcript(tokenizer):
    actions = [{"name": "Observe", "parameters": {}},
               {"name": "CharAt", "parameters": {"string_index": 0, "position": 0}},
               {"name": "CharAt", "parameters": {"string_index": 1, "position": 0}},
               {"name": "ExtendPrefix", "parameters": {"char": "c"}},
               {"name": "Done", "parameters": {"answer": "c"}}]
    observations = ['{"strings": 2, "prefix": ""}', '"c"', '"c"', '"c"', "done"]
    return library_transcript(tokenizer, "LongestCommonPrefixEnv", {"strings": ["cab", "cb"]}, actions,
                              observations)


def _syntax_nll(params, arch, traj, roles):
    """NLL of each syntax token, by the learner's own log-prob function."""
    logp_1xT, _ = logprobs.token_logprobs(params, arch, batches.trajectory_batch([traj]))
    nll_L = -np.concatenate([[0.0], np.asarray(logp_1xT[0])])  # token t's NLL at index t
    return nll_L[[t for t, role in enumerate(roles) if role == SYNTAX]]


def test_base_writes_the_call_syntax_of_an_environment_it_never_saw():
    """What the base brings: the call format. On an oracle transcript of the default's training
    environment, the base predicts most syntax tokens (all but the parameter names, which are new
    to it); the same architecture at its random init predicts none."""
    tokenizer = tk.load(str(BASE_DIR))
    arch, params = load_hf_model(BASE_DIR)
    traj = _lcp_transcript(tokenizer)
    roles = token_roles(tokenizer, traj)
    base = _syntax_nll(params, arch, traj, roles)
    random_init = _syntax_nll(qwen.init_params(arch, jax.random.PRNGKey(0)), arch, traj, roles)
    assert base.size > 80
    assert np.mean(base <= np.log(2.0)) > 0.7, f"base predicts {np.mean(base <= np.log(2.0)):.0%} of syntax"
    assert np.mean(random_init <= np.log(2.0)) < 0.05
    assert np.median(base) < 0.01 < 5.0 < np.median(random_init)


def _answer_tokens(tokenizer, text):
    """The tokens spelling `text` in a tool reply and in a Done call's answer."""
    reply = tokenizer.tokenize(json.dumps(text))
    call = tokenizer.tokenize(json.dumps([{"name": "Done", "parameters": {"answer": text}}]))
    start = call.index("answer") + 3  # past 'answer', '":' and ' "'
    end = next(i for i in range(start, len(call)) if call[i].startswith('"'))
    return reply[1:-1], call[start:end]


def test_default_training_strings_spell_one_token_per_letter():
    """The default, tiny_cpu_routes and tiny_cpu_scan train on longest-common-prefix environments
    over letters the shipped BPE never merges, so a string or prefix is copied into a call one
    token per letter, as the tool replies showed it."""
    env_names = tuple(name for config in (tiny_cpu, tiny_cpu_routes, tiny_cpu_scan)
                      for name in config.get_config().data.train_envs)
    assert env_names == ("LongestCommonPrefixShortcutEnv", "LongestCommonPrefixRoutesEnv",
                         "LongestCommonPrefixEnv"), env_names
    tokenizer = tk.load(str(BASE_DIR))
    assert _answer_tokens(tokenizer, "ace") == (["ace"], ["ace"])  # over a-f the BPE does merge
    files = library_env_files()
    with SandboxPool() as pool:
        env_strs = [pool.call_function(files[name].read_text(encoding="utf-8"), "generate", seed, difficulty)
                    for name in env_names for difficulty in DIFFICULTIES for seed in range(40)]
    strings = {text for env_str in env_strs for text in parse_env_str(env_str)[1]["strings"]}
    assert len(strings) > 100
    for text in sorted(strings):
        for n in range(1, len(text) + 1):
            assert _answer_tokens(tokenizer, text[:n]) == (list(text[:n]), list(text[:n])), text[:n]
