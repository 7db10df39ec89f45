"""In-process JAX sampler: batched prefill + KV-cache decode over a fixed set of slots.

Requests (prompt ids + SamplingParams) queue up; a worker thread admits them into free slots
(batched prefill of all newly admitted prompts), then runs jitted chunks of decode steps over all
slots. A slot whose sequence finished (stop token, max_new_tokens, or the cache is full) is freed
and refilled from the queue at the next chunk boundary, so episodes of different lengths share
the batch. Sampling parameters are per slot (temperature, top-p, top-k, greedy, seed), so
requests with different settings mix freely.

The sampler reads the learner's params pytree directly: `update_weights` swaps the reference
between chunks; sequences already in flight continue on the new params (as SGLang does when
pausing with mode "in_place").

Log-probs are log_softmax(logits / temperature) of the sampled token (temperature 1 when
greedy), before top-p/top-k truncation: what the learner recomputes from the same tokens.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import queue
import threading
from concurrent.futures import Future
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from codegym_jax.buckets import bucket
from codegym_jax.models import kv_cache, qwen
from codegym_jax.models.config import DecoderConfig
from codegym_jax.rollout.engine import GenerateResult, SamplingParams
from codegym_jax.rollout.sampling import sample_next

MAX_STOP_TOKENS = 8


@dataclasses.dataclass
class _Request:
    prompt: list[int]
    sampling: SamplingParams
    future: Future
    tokens: list[int] = dataclasses.field(default_factory=list)
    logprobs: list[float] = dataclasses.field(default_factory=list)


class JaxSampler:
    """The rollout engine on the model in this process (see module docstring).

    cfg, params: the model and its params pytree (shared with the learner; not copied).
    max_batch: decode slots. max_len: KV-cache length (prompt + generation) of one slot.
    decode_chunk: decode steps per jitted call between admissions (host syncs once per chunk).
    """

    def __init__(self, cfg: DecoderConfig, params: Any, max_batch: int = 8, max_len: int = 2048,
                 decode_chunk: int = 8, cache_dtype: Any = jnp.float32, seed: int = 0):
        self.cfg = cfg
        self.params = params
        self.version = 0
        self.max_batch = max_batch
        self.max_len = max_len
        self.decode_chunk = decode_chunk
        self.cache_dtype = cache_dtype
        self._seed = seed
        self._next_seed = seed
        self._batch_axes = self._cache_batch_axes()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._params_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._decode = jax.jit(functools.partial(_decode_chunk, cfg, decode_chunk),
                               donate_argnums=(1,), static_argnums=(3,))
        self._prefill = jax.jit(functools.partial(_prefill, cfg, self._batch_axes), donate_argnums=(1,))
        self._cached: list[list[int]] = [[] for _ in range(max_batch)]
        self._cached_version: list[int] = [0] * max_batch
        self.stats = {"prefill_tokens": 0, "reused_tokens": 0}

    # ------------------------------------------------------------------ engine protocol
    def generate(self, prompt_token_ids_batch: Sequence[Sequence[int]],
                 sampling: SamplingParams) -> list[GenerateResult]:
        futures = [self.submit(p, sampling) for p in prompt_token_ids_batch]
        return [f.result() for f in futures]

    async def generate_async(self, prompt_token_ids: Sequence[int], sampling: SamplingParams) -> GenerateResult:
        return await asyncio.wrap_future(self.submit(prompt_token_ids, sampling))

    def update_weights(self, params: Any, version: int) -> None:
        """Swap in the learner's new params (same structure and shapes): no copy, no transfer."""
        old = jax.tree.structure(self.params)
        if jax.tree.structure(params) != old:
            raise ValueError(f"params tree structure changed: {jax.tree.structure(params)} vs {old}")
        with self._params_lock:
            self.params = params
            self.version = version

    def submit(self, prompt_token_ids: Sequence[int], sampling: SamplingParams) -> Future:
        prompt = [int(t) for t in prompt_token_ids]
        if not prompt:
            raise ValueError("empty prompt")
        if len(prompt) >= self.max_len:
            raise ValueError(f"prompt of {len(prompt)} tokens leaves no room in max_len={self.max_len}")
        if len(sampling.stop_token_ids) > MAX_STOP_TOKENS:
            raise ValueError(f"at most {MAX_STOP_TOKENS} stop tokens, got {sampling.stop_token_ids}")
        bad = [t for t in prompt if not 0 <= t < self.cfg.vocab_size]
        if bad:
            raise ValueError(f"token ids {bad[:5]} outside the vocabulary of {self.cfg.vocab_size}")
        if self._closed:
            raise RuntimeError("JaxSampler is closed")
        future: Future = Future()
        self._queue.put(_Request(prompt, sampling, future))
        if self._worker is None:
            self._worker = threading.Thread(target=self._serve, name="jax-sampler", daemon=True)
            self._worker.start()
        return future

    def close(self) -> None:
        self._closed = True
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None

    def __enter__(self) -> "JaxSampler":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ the slot loop
    def _cache_batch_axes(self):
        """Which axis of each cache leaf is the batch (found by comparing cache shapes)."""
        one = jax.eval_shape(lambda: kv_cache.init_cache(self.cfg, 1, 8, self.cache_dtype))
        two = jax.eval_shape(lambda: kv_cache.init_cache(self.cfg, 2, 8, self.cache_dtype))

        def axis(a, b):
            diff = [i for i, (x, y) in enumerate(zip(a.shape, b.shape)) if x != y]
            if len(diff) != 1:
                raise ValueError(f"cannot find the batch axis of a cache leaf: {a.shape} vs {b.shape}")
            return diff[0]

        return jax.tree.map(axis, one, two)

    def _serve(self) -> None:
        B = self.max_batch
        cache = kv_cache.init_cache(self.cfg, B, self.max_len, self.cache_dtype)
        slots: list[_Request | None] = [None] * B
        state = {
            "last_token": np.zeros(B, np.int32), "pos": np.zeros(B, np.int32),
            "seed": np.zeros(B, np.uint32), "generated": np.zeros(B, np.int32),
            "max_new": np.zeros(B, np.int32), "temperature": np.ones(B, np.float32),
            "top_p": np.ones(B, np.float32), "top_k": np.zeros(B, np.int32),
            "greedy": np.zeros(B, bool), "stop": np.full((B, MAX_STOP_TOKENS), -1, np.int32),
            "active": np.zeros(B, bool),
        }
        waiting: collections.deque[_Request] = collections.deque()
        stopping = False
        while True:
            block = not waiting and not any(s is not None for s in slots)
            if stopping and block:
                return
            try:
                while True:
                    item = self._queue.get(block=block and not stopping)
                    block = False
                    if item is None:
                        stopping = True
                    else:
                        waiting.append(item)
            except queue.Empty:
                pass
            if not waiting and not any(s is not None for s in slots):
                continue
            try:
                cache = self._admit(cache, slots, state, waiting)
                cache = self._run_chunk(cache, slots, state)
            except Exception as e:  # a failing engine fails its requests, never hangs them
                for i, request in enumerate(slots):
                    if request is not None and not request.future.done():
                        request.future.set_exception(e)
                    slots[i] = None
                state["active"][:] = False
                self._cached = [[] for _ in range(B)]
                cache = kv_cache.init_cache(self.cfg, B, self.max_len, self.cache_dtype)

    def _admit(self, cache, slots, state, waiting):
        """Puts waiting requests into free slots and prefills what their slot's cache lacks.

        A free slot keeps the K/V of the last sequence it ran (`self._cached[slot]` are those
        tokens). A new prompt goes to the free slot sharing its longest prefix, so the next turn
        of an episode prefills only its new tokens (observation + generation prompt). Slots past
        the shared prefix hold stale entries, but a query at position p only sees slots <= p and
        every one of those is rewritten for the new sequence before it is read."""
        free = [i for i, s in enumerate(slots) if s is None]
        admitted = []
        while free and waiting:
            request = waiting.popleft()
            if not request.future.set_running_or_notify_cancel():
                continue
            shared = [_common_prefix(self._cached[i], request.prompt[:-1])
                      if self._cached_version[i] == self.version else 0 for i in free]
            best = int(np.argmax(shared))
            admitted.append((free.pop(best), request, shared[best]))
        if not admitted:
            return cache
        # the last prompt token is fed by the first decode step, which samples after it
        longest = max(len(r.prompt) - 1 - start for _, r, start in admitted)
        length = bucket(max(longest, 1), 16, self.max_len)
        rows = bucket(len(admitted), 1, self.max_batch)
        tokens = np.zeros((rows, length), np.int32)
        segments = np.zeros((rows, length), np.int32)
        starts = np.zeros(rows, np.int32)
        slot_index = np.full(rows, self.max_batch, np.int32)  # out of range: dropped
        for row, (slot, request, start) in enumerate(admitted):
            n = len(request.prompt) - 1
            tokens[row, :n - start] = request.prompt[start:n]
            segments[row, :n - start] = 1
            starts[row] = start
            slot_index[row] = slot
            self.stats["prefill_tokens"] += n - start
            self.stats["reused_tokens"] += start
            s = request.sampling
            seed = s.seed if s.seed is not None else self._take_seed()
            state["last_token"][slot] = request.prompt[-1]
            state["pos"][slot] = n
            state["seed"][slot] = np.uint32(seed % (1 << 32))
            state["generated"][slot] = 0
            state["max_new"][slot] = min(s.max_new_tokens, self.max_len - len(request.prompt))
            state["temperature"][slot] = s.temperature if s.temperature > 0 else 1.0
            state["top_p"][slot] = s.top_p
            state["top_k"][slot] = s.top_k
            state["greedy"][slot] = s.greedy
            state["stop"][slot] = -1
            state["stop"][slot, :len(s.stop_token_ids)] = s.stop_token_ids
            state["active"][slot] = True
            slots[slot] = request
            self._cached[slot] = []  # until the sequence finishes, the slot is not reusable
            self._cached_version[slot] = self.version
        if longest == 0:
            return cache
        with self._params_lock:
            params = self.params
        return self._prefill(params, cache, jnp.asarray(tokens), jnp.asarray(segments), jnp.asarray(starts),
                             jnp.asarray(slot_index))

    def _take_seed(self) -> int:
        self._next_seed += 1
        return self._next_seed

    def _run_chunk(self, cache, slots, state):
        with self._params_lock:
            params = self.params
        device_state = {k: jnp.asarray(v) for k, v in state.items()}
        # The chunk reads positions up to the furthest running slot's pos + decode_chunk - 1;
        # rounding up to a power-of-two multiple of 128 keeps the compiled variants few.
        running = [int(state["pos"][i]) for i, r in enumerate(slots) if r is not None]
        reach = max(running, default=0) + self.decode_chunk
        attend_len = min(bucket(reach, 128), self.max_len)
        cache, out = self._decode(params, cache, device_state, attend_len)
        tokens_BxC, logprobs_BxC, emitted_BxC = jax.device_get(out)
        for slot, request in enumerate(slots):
            if request is None:
                continue
            n = int(emitted_BxC[slot].sum())
            request.tokens.extend(int(t) for t in tokens_BxC[slot, :n])
            request.logprobs.extend(float(x) for x in logprobs_BxC[slot, :n])
            state["generated"][slot] += n
            state["pos"][slot] += n
            if n:
                state["last_token"][slot] = tokens_BxC[slot, n - 1]
            last = request.tokens[-1] if request.tokens else None
            stopped = last is not None and last in request.sampling.stop_token_ids
            if stopped or state["generated"][slot] >= state["max_new"][slot]:
                state["active"][slot] = False
                slots[slot] = None
                # K/V written for this slot: every token but the last sampled one
                # (only if all of it came from the current params: a weight swap invalidates it)
                if self._cached_version[slot] == self.version:
                    self._cached[slot] = (request.prompt + request.tokens)[: int(state["pos"][slot])]
                reason = "stop" if stopped else "length"
                request.future.set_result(GenerateResult(request.tokens, request.logprobs, reason))
        return cache


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _scatter_rows(big, small, slot_index, axis):
    index = (slice(None),) * axis + (slot_index,)
    return big.at[index].set(small, mode="drop")


def _prefill(cfg, batch_axes, params, cache, tokens_NxL, segments_NxL, start_N, slot_index_N):
    """Writes the admitted prompts' uncached tokens (from position start_N on, all but the last
    prompt token) into their slots' cache rows."""
    n, length = tokens_NxL.shape
    rows = jax.tree.map(lambda big, axis: jnp.take(big, slot_index_N, axis=axis, mode="clip"), cache, batch_axes)
    positions_NxL = start_N[:, None] + jnp.arange(length, dtype=jnp.int32)[None, :]
    _, filled = qwen.forward(params, cfg, tokens_NxL, positions_NxL, segment_ids_BxL=segments_NxL, cache=rows)
    return jax.tree.map(lambda big, small, axis: _scatter_rows(big, small, slot_index_N, axis),
                        cache, filled, batch_axes)


def _decode_chunk(cfg, steps, params, cache, state, attend_len):
    """`steps` decode steps over all slots, attending over the first `attend_len` cache slots
    (finished slots' queries may see less; their outputs are dropped). Returns the cache and
    per-step tokens, log-probs and whether each slot emitted a token at that step (a slot stops
    emitting once finished)."""

    def step(carry, _):
        cache, last, pos, generated, active = carry
        tokens_Bx1 = last[:, None]
        logits, cache = qwen.forward(params, cfg, tokens_Bx1, pos[:, None],
                                     segment_ids_BxL=jnp.ones_like(tokens_Bx1), cache=cache,
                                     attend_len=attend_len)
        keys = jax.vmap(lambda s, g: jax.random.fold_in(jax.random.PRNGKey(s), g))(state["seed"], generated)
        token, logprob = sample_next(logits[:, -1, :], keys, state["temperature"], state["top_p"],
                                     state["top_k"], state["greedy"])
        emitted = active
        generated = generated + emitted.astype(jnp.int32)
        stopped = jnp.any(token[:, None] == state["stop"], axis=-1)
        active = active & ~stopped & (generated < state["max_new"])
        last = jnp.where(emitted, token, last)
        pos = pos + emitted.astype(jnp.int32)
        return (cache, last, pos, generated, active), (token, logprob, emitted)

    carry = (cache, state["last_token"], state["pos"], state["generated"], state["active"])
    (cache, *_), (tokens_CxB, logprobs_CxB, emitted_CxB) = jax.lax.scan(step, carry, None, length=steps)
    return cache, (tokens_CxB.T, logprobs_CxB.T, emitted_CxB.T)
