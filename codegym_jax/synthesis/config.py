"""Settings of the synthesis pipeline; defaults are the numbers of docs/architecture.md, "The
paper's numbers"."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class SynthesisConfig:
    """base_url/model/api_key: any OpenAI-compatible chat endpoint (SGLang, vLLM, a hosted API).
    max_in_flight: concurrent chat requests; max_retries/backoff_s: retry schedule of one request.
    tests_per_difficulty: unit tests asked for per difficulty (3 x 10 = the 2 x 15 of the paper).
    min_test_pass_rate/min_tests_passed: an env is kept when both hold over its unit tests.
    test_deadline_s/test_memory_bytes/max_answer_chars: limits of one unit-test check.
    oracle_candidates: K candidate solve() functions per env.
    min_oracle_steps/max_oracle_steps/min_tools: task filters. max_policy_pass_rate: with a
    pass_at_k(task) -> float callable given, tasks the policy solves at this rate or more are dropped.
    workers: sandbox processes (each of two pools)."""

    base_url: str = "http://127.0.0.1:30000/v1"
    model: str = "default"
    api_key: str = ""
    temperature: float = 0.7
    max_tokens: int = 8192
    request_timeout_s: float = 300.0
    max_in_flight: int = 32
    max_retries: int = 4
    backoff_s: float = 1.0
    tests_per_difficulty: int = 10
    min_test_pass_rate: float = 0.8
    min_tests_passed: int = 10
    test_deadline_s: float = 3.0
    test_memory_bytes: int = 100 << 20
    max_answer_chars: int = 100
    oracle_candidates: int = 10
    min_oracle_steps: int = 10
    max_oracle_steps: int = 256
    min_tools: int = 4
    max_policy_pass_rate: float = 1.0
    workers: int = 2

    def __post_init__(self):
        if not 0.0 <= self.min_test_pass_rate <= 1.0:
            raise ValueError(f"min_test_pass_rate must be in [0, 1], got {self.min_test_pass_rate!r}")
        for name in ("max_in_flight", "tests_per_difficulty", "oracle_candidates", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"SynthesisConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.min_oracle_steps > self.max_oracle_steps:
            raise ValueError(f"min_oracle_steps {self.min_oracle_steps} > max_oracle_steps {self.max_oracle_steps}")
