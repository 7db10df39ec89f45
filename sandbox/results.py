"""What sandbox calls return: the result of a tool call or oracle run, and the error raised when
env code cannot be loaded or run.

Shared by the process pool (`sandbox.pool`), the HTTP env server and its client
(`sandbox.server`, `sandbox.client`) and the asyncio adapter (`sandbox.async_sandbox`), so that
code needing only these types does not import the process pool.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class StepResult:
    """Outcome of one tool call. `error` is None or a kind: env_exception, timeout, crash, memory,
    refused, observation_too_long, invalid_action, max_steps, episode_done, session_lost (bad_result:
    a reply that broke a bound, which also loses the session).
    `step_count` counts the session's tool calls so far (failed ones included)."""

    observation: str
    done: bool
    reward: float
    error: str | None
    step_count: int


@dataclasses.dataclass(frozen=True)
class OracleResult:
    reward: float
    steps: int
    actions: list
    observations: list
    error: str | None


class SandboxError(RuntimeError):
    """Env code could not be loaded/run (syntax error, bad import, timeout, crash...)."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class InfrastructureError(RuntimeError):
    """A call the sandbox could not serve for reasons outside the environment's code (its
    server gone, unreachable or overloaded past the retries). An episode that meets one ends
    as `infra_error` and is left out of training, never scored as the policy's failure."""
