"""What one episode produced, as the learner consumes it (docs/architecture.md, "Trajectory")."""

from __future__ import annotations

import dataclasses

import numpy as np

# infra_error: the sandbox could not serve the episode (sandbox.results.InfrastructureError);
# such episodes are left out of training.
TERMINATIONS = ("done", "max_turns", "max_tokens", "context", "parse_error", "env_error", "timeout", "infra_error")


@dataclasses.dataclass
class Trajectory:
    """tokens: the episode's one append-only buffer (prompt, sampled turns, observation deltas).
    loss_mask: 1 exactly on tokens the policy sampled. sampler_logprobs: the engine's log-prob of
    each sampled token (0 elsewhere). turn_spans: [start, end) of each sampled turn in `tokens`.
    messages: the conversation the buffer renders (for inspection and tests)."""

    tokens: np.ndarray  # int32 [L]
    loss_mask: np.ndarray  # int32 [L]
    sampler_logprobs: np.ndarray  # float32 [L]
    reward: float
    termination: str
    env_str: str
    group_id: int
    policy_version: int
    turn_spans: list[tuple[int, int]]
    prompt_len: int
    num_tool_calls: int
    messages: list[dict]
    wall_s: float = 0.0
    generate_s: float = 0.0

    def __post_init__(self):
        if self.termination not in TERMINATIONS:
            raise ValueError(f"termination {self.termination!r} not in {TERMINATIONS}")
        n = len(self.tokens)
        if not len(self.loss_mask) == len(self.sampler_logprobs) == n:
            raise ValueError(f"lengths differ: tokens {n}, loss_mask {len(self.loss_mask)}, "
                             f"sampler_logprobs {len(self.sampler_logprobs)}")

    @property
    def num_sampled(self) -> int:
        return int(self.loss_mask.sum())
