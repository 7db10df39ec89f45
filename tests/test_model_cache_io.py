"""KV-cache decode equals the full forward; HF save -> load is bit-identical and loads in transformers."""
from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from codegym_jax.models import hf_io, kv_cache, qwen
from codegym_jax.models.config import DecoderConfig
from model_fixtures import make_hf_model, padded_batch
from tolerances import assert_within_rounding, forward_terms

CFG = DecoderConfig(vocab_size=96, hidden_size=64, intermediate_size=128, num_layers=2,
                  num_heads=4, num_kv_heads=2, head_dim=16, family="qwen3")


def test_prefill_then_decode_equals_full_forward_with_ragged_rows():
    params = qwen.init_params(CFG, jax.random.key(1))
    rng = np.random.default_rng(0)
    lengths = np.array([9, 4, 6])
    total = 12
    tokens = rng.integers(1, CFG.vocab_size, (3, total)).astype(np.int32)
    positions = np.tile(np.arange(total, dtype=np.int32), (3, 1))
    full, _ = qwen.forward(params, CFG, jnp.asarray(tokens), jnp.asarray(positions))

    # Prefill each row's own prompt length (right padding), then decode one token at a time with
    # every row at a different position.
    width = lengths.max()
    segments = (np.arange(width)[None] < lengths[:, None]).astype(np.int32)
    cache = kv_cache.init_cache(CFG, 3, 16)
    pre, cache = qwen.forward(params, CFG, jnp.asarray(tokens[:, :width]), jnp.asarray(positions[:, :width]),
                              jnp.asarray(segments), cache)
    # Other shapes than the full forward's: equal up to a forward's rounding.
    terms = forward_terms(CFG, total)
    for b in range(3):
        assert_within_rounding(pre[b, : lengths[b]], full[b, : lengths[b]], terms, what=f"prefill row {b}")
    decode = jax.jit(lambda p, t, pos, c: qwen.forward(p, CFG, t, pos, None, c))
    pos = lengths.copy()
    while (pos < total).any():
        step_pos = np.minimum(pos, total - 1)
        step_tok = tokens[np.arange(3), step_pos]
        logits, cache = decode(params, jnp.asarray(step_tok[:, None]), jnp.asarray(step_pos[:, None]), cache)
        for b in range(3):
            if pos[b] < total:
                assert_within_rounding(logits[b, 0], full[b, pos[b]], terms, what=f"row {b} at {pos[b]}")
        pos = pos + 1


def test_decode_over_a_cache_window_matches_the_whole_cache():
    # attend_len cuts attention to the first slots; as long as they hold every position read,
    # logits and the written cache are those of attending over all 64 slots.
    params = qwen.init_params(CFG, jax.random.key(3))
    rng = np.random.default_rng(1)
    tokens = jnp.asarray(rng.integers(1, CFG.vocab_size, (2, 10)).astype(np.int32))
    positions = jnp.tile(jnp.arange(10, dtype=jnp.int32), (2, 1))
    _, cache = qwen.forward(params, CFG, tokens, positions, None, kv_cache.init_cache(CFG, 2, 64))
    step_tok, step_pos = jnp.asarray([[3], [4]]), jnp.asarray([[10], [10]])
    whole, whole_cache = qwen.forward(params, CFG, step_tok, step_pos, None, cache)
    window, window_cache = qwen.forward(params, CFG, step_tok, step_pos, None, cache, attend_len=16)
    # Attention over 16 slots instead of 64 sums over other shapes: a forward's rounding.
    terms = forward_terms(CFG, 64)
    assert_within_rounding(window, whole, terms, what="logits")
    for key in ("k", "v"):  # the second layer's new entries carry the first's rounding
        assert_within_rounding(window_cache[key], whole_cache[key], terms, what=key)
    np.testing.assert_array_equal(window_cache["segment_ids"], whole_cache["segment_ids"])
    # A window that leaves out positions the query reads changes the result: the cut is real.
    cut, _ = qwen.forward(params, CFG, step_tok, step_pos, None, cache, attend_len=4)
    assert not np.allclose(cut, whole, atol=1e-3)
    for bad in (0, 65):
        with pytest.raises(ValueError, match=f"attend_len={bad} must be in 1..64"):
            qwen.forward(params, CFG, step_tok, step_pos, None, cache, attend_len=bad)


def test_padding_tokens_never_enter_the_cache():
    params = qwen.init_params(CFG, jax.random.key(2))
    segments = jnp.asarray([[1, 1, 0]])
    positions = jnp.asarray([[0, 1, 1]])  # the pad claims slot 1, which holds a real token

    def cache_after(tokens):
        _, cache = qwen.forward(params, CFG, jnp.asarray(tokens), positions, segments, kv_cache.init_cache(CFG, 1, 8))
        return cache

    cache = cache_after([[5, 6, 7]])
    np.testing.assert_array_equal(cache["segment_ids"][0, :3], [1, 1, 0])
    # The same program on the same shapes with another pad token: a pad that reached the cache
    # (slot 1, or any other) would show as a difference; none may, to the bit.
    other_pad = cache_after([[5, 6, 93]])
    for key in ("k", "v"):
        np.testing.assert_array_equal(cache[key], other_pad[key])
    # And slot 1 holds the real token's entry: the same entries as a forward without the pad,
    # a program of other shapes, so equal up to a forward's rounding.
    _, no_pad = qwen.forward(params, CFG, jnp.asarray([[5, 6]]), positions[:, :2], segments[:, :2],
                             kv_cache.init_cache(CFG, 1, 8))
    for key in ("k", "v"):
        assert_within_rounding(cache[key], no_pad[key], forward_terms(CFG, 3), what=key)
        slots = np.moveaxis(np.asarray(cache[key]), 3 if key == "k" else 4, 2)  # [layers, B, slot, ...]
        assert slots[:, :, :2].all() and not slots[:, :, 2:].any()


@pytest.mark.parametrize("family, tied", [("qwen2", False), ("qwen3", True)])
def test_save_load_bit_identical_and_sharded_index(tmp_path, family, tied):
    cfg = DecoderConfig(**{**CFG.__dict__, "family": family, "tie_word_embeddings": tied})
    params = qwen.init_params(cfg, jax.random.key(3))
    hf_io.save_hf_model(tmp_path / "one", cfg, params)
    hf_io.save_hf_model(tmp_path / "many", cfg, params, max_shard_bytes=40_000)
    assert (tmp_path / "one" / hf_io.SINGLE_FILE).exists()
    index = json.loads((tmp_path / "many" / hf_io.INDEX_FILE).read_text())
    assert len(set(index["weight_map"].values())) > 1
    for folder in ("one", "many"):
        cfg2, loaded = hf_io.load_hf_model(tmp_path / folder)
        assert cfg2 == cfg
        jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)), params, loaded)


def test_config_json_has_transformers4_fields(tmp_path):
    params = qwen.init_params(CFG, jax.random.key(0))
    hf_io.save_hf_model(tmp_path, CFG, params)
    doc = json.loads((tmp_path / "config.json").read_text())
    assert doc["rope_theta"] == CFG.rope_theta and doc["torch_dtype"] == "float32"
    assert doc["architectures"] == ["Qwen3ForCausalLM"] and doc["head_dim"] == 16


def test_our_checkpoint_loads_in_transformers_with_same_logits(tmp_path):
    torch = pytest.importorskip("torch")
    import transformers

    for family in ("qwen2", "qwen3"):
        cfg = DecoderConfig(**{**CFG.__dict__, "family": family})
        params = qwen.init_params(cfg, jax.random.key(4))
        params = jax.tree.map(lambda x: x + 0.05 * jax.random.normal(jax.random.key(5), x.shape), params)
        hf_io.save_hf_model(tmp_path / family, cfg, params)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / family), dtype=torch.float32)
        tokens, positions, segments = padded_batch(cfg.vocab_size, seed=1)
        with torch.no_grad():
            ref = model(input_ids=torch.tensor(tokens, dtype=torch.long),
                        attention_mask=torch.tensor(segments != 0, dtype=torch.long),
                        position_ids=torch.tensor(positions, dtype=torch.long)).logits.numpy()
        ours, _ = qwen.forward(params, cfg, jnp.asarray(tokens), jnp.asarray(positions), jnp.asarray(segments))
        real = segments != 0
        assert_within_rounding(np.asarray(ours)[real], ref[real], forward_terms(cfg, tokens.shape[1]), what=family)


def test_missing_checkpoint_files_are_named(tmp_path):
    make_hf_model(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        hf_io.load_hf_model(tmp_path / "m")


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="num_heads=6 is not a multiple of num_kv_heads=4"):
        DecoderConfig(vocab_size=8, hidden_size=8, intermediate_size=8, num_layers=1, num_heads=6,
                    num_kv_heads=4, head_dim=4)
    with pytest.raises(ValueError, match="family must be"):
        DecoderConfig(vocab_size=8, hidden_size=8, intermediate_size=8, num_layers=1, num_heads=2,
                    num_kv_heads=1, head_dim=4, family="llama")
