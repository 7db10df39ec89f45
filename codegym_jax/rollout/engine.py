"""The rollout-engine protocol (docs/architecture.md, "Rollout engine"): token ids in, sampled token
ids + log-probs out.

Engines: the in-process `JaxSampler` (jax_sampler.py) and the SGLang HTTP client
(sglang_engine.py). The agent loop only talks to this interface.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, Sequence, runtime_checkable

FINISH_REASONS = ("stop", "length", "abort")


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    """How to sample one continuation.

    temperature: logits are divided by it before sampling; 0 means greedy.
    top_p: nucleus mass kept (1.0 = off). top_k: tokens kept (0 = off).
    greedy: argmax decoding (also implied by temperature == 0).
    max_new_tokens: hard cap on sampled tokens.
    stop_token_ids: sampling ends after one of these is sampled (it is returned, with its log-prob).
    seed: sampling seed (None = engine's own stream).
    Log-probs are those of the temperature-scaled distribution before top-p/top-k truncation
    (what the learner recomputes), i.e. log_softmax(logits / temperature); greedy uses temperature 1.
    """

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    greedy: bool = False
    stop_token_ids: tuple[int, ...] = ()
    seed: int | None = None

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        object.__setattr__(self, "stop_token_ids", tuple(int(t) for t in self.stop_token_ids))
        if self.temperature == 0:
            object.__setattr__(self, "greedy", True)


@dataclasses.dataclass(frozen=True)
class GenerateResult:
    """One sampled continuation: `token_ids[i]` was sampled with log-prob `logprobs[i]`.
    finish_reason: "stop" (a stop token was sampled; it is the last token), "length"
    (max_new_tokens reached) or "abort"."""

    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish_reason: str

    def __post_init__(self):
        object.__setattr__(self, "token_ids", tuple(int(t) for t in self.token_ids))
        object.__setattr__(self, "logprobs", tuple(float(x) for x in self.logprobs))
        if len(self.token_ids) != len(self.logprobs):
            raise ValueError(f"{len(self.token_ids)} tokens but {len(self.logprobs)} log-probs")
        if self.finish_reason not in FINISH_REASONS:
            raise ValueError(f"finish_reason {self.finish_reason!r} not in {FINISH_REASONS}")


@runtime_checkable
class RolloutEngine(Protocol):
    def generate(self, prompt_token_ids_batch: Sequence[Sequence[int]],
                 sampling: SamplingParams) -> list[GenerateResult]: ...

    def update_weights(self, params: Any, version: int) -> Any: ...


async def generate_one(engine: Any, prompt_token_ids: Sequence[int],
                       sampling: SamplingParams) -> GenerateResult:
    """Await one generation: the engine's own `generate_async` when it has one (it can batch
    requests from many episodes), else its blocking `generate` on a worker thread."""
    generate_async = getattr(engine, "generate_async", None)
    if generate_async is not None:
        return await generate_async(prompt_token_ids, sampling)
    import asyncio

    results = await asyncio.to_thread(engine.generate, [list(prompt_token_ids)], sampling)
    return results[0]
