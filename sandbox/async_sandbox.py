"""asyncio adapter over a sandbox backend, for the agent loop.

Each event loop wraps its backend, a `sandbox.pool.SandboxPool` or a `sandbox.client.EnvClient`
(same methods), in its own `AsyncSandbox`. This module imports neither backend.
"""

import asyncio

from sandbox.results import OracleResult, StepResult


class AsyncSandbox:
    """asyncio face of a SandboxPool for the agent loop. Steps awaited in the same event-loop
    tick are coalesced into one `step_many`, run on a thread so the loop keeps going.
    `pool` may also be a `sandbox.client.EnvClient` (same methods) to use remote env servers."""

    def __init__(self, pool):
        self.pool = pool
        self._pending: list = []

    async def open_session(self, env_source: str, env_str: str) -> str:
        return await asyncio.to_thread(self.pool.open_session, env_source, env_str)

    async def close_session(self, session_id: str) -> None:
        await asyncio.to_thread(self.pool.close_session, session_id)

    async def step(self, session_id: str, action) -> StepResult:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((session_id, action, future))
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    async def run_oracle(self, env_source: str, env_str: str) -> OracleResult:
        return await asyncio.to_thread(self.pool.run_oracle, env_source, env_str)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(
            asyncio.to_thread(self.pool.step_many, [(sid, action) for sid, action, _ in batch]))

        def deliver(done):
            error = done.exception()
            for index, (_, _, future) in enumerate(batch):
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(done.result()[index])

        task.add_done_callback(deliver)
