"""Resource limits for sandbox workers and the sessions they host."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class SandboxLimits:
    """Limits applied to every environment-code worker process.

    address_space_bytes: RLIMIT_AS of a worker (stdlib-only env code needs far less than 1 GiB).
    cpu_seconds_per_worker: RLIMIT_CPU of a worker process over its life (a backstop: the
        wall-clock deadlines below stop a runaway call; a worker has no threads or timers, so
        it uses CPU only inside calls). A worker that reaches it is replaced, its sessions replayed.
    file_size_bytes: RLIMIT_FSIZE (largest file env code may write in its temp dir).
    open_files: RLIMIT_NOFILE.
    call_deadline_s: parent-side wall-clock deadline of one tool call or session open.
    oracle_deadline_s: deadline of a whole oracle `solve()` run, a `call_function`, or a replay.
    max_steps: tool calls allowed per episode (T_max); the call after the last gets done=True.
    max_observation_chars: longer observations fail the call (session left unchanged).
    max_result_chars: largest oracle transcript or function result, written out.
    max_error_chars: error messages are cut to this length.
    reward_range: the rewards an environment may report (CodeGym's are 0/1); any other value,
        or a non-finite one, fails the call and loses the session.
    max_workers: worker processes alive at once. Each hosts the sessions of one environment
        source (one tenant per interpreter); opening a session of a new source when all are
        busy with live sessions fails with SandboxError kind "capacity".
    idle_workers: workers of sources with no open session kept warm for reuse.
    spare_workers: confined workers kept ready for sources not seen yet (started in the
        background), so a new source's first session does not wait for a worker to start.
    accept_weaker_isolation: run env code even when the kernel lacks part of the confinement
        (`sandbox.isolation`); by default the pool refuses to start and names what is missing.
    """

    address_space_bytes: int = 1 << 30
    cpu_seconds_per_worker: int = 3600
    file_size_bytes: int = 16 << 20
    open_files: int = 64
    call_deadline_s: float = 3.0
    oracle_deadline_s: float = 30.0
    max_steps: int = 256
    max_observation_chars: int = 100_000
    max_result_chars: int = 10_000_000
    max_error_chars: int = 10_000
    reward_range: tuple[float, float] = (0.0, 1.0)
    max_workers: int = 256
    idle_workers: int = 16
    spare_workers: int = 2
    accept_weaker_isolation: bool = False

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type in (int, float, "int", "float") and not value > 0:
                raise ValueError(f"SandboxLimits.{field.name} must be > 0, got {value!r}")
        low, high = self.reward_range
        if not low <= high:
            raise ValueError(f"SandboxLimits.reward_range must be (low, high) with low <= high, got {self.reward_range!r}")
