"""Episodes written for people to read: one Markdown file per phase and step under
`<run dir>/samples/`, each episode with its env, reward, termination and every turn."""
from __future__ import annotations

import pathlib
from typing import Sequence

from codegym_jax.rollout.trajectory import Trajectory
from codegym_jax.run_paths import RunPaths


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f" … [{len(text) - limit} more characters]"


def format_episode(t: Trajectory, max_prompt_chars: int = 600, max_turn_chars: int = 400) -> str:
    lines = [
        f"### {_clip(t.env_str, 200)}",
        f"reward {t.reward:g} · termination {t.termination} · {t.num_tool_calls} tool calls · "
        f"{len(t.tokens)} tokens ({t.num_sampled} sampled) · policy version {t.policy_version}",
        "",
    ]
    for m in t.messages:
        role = m["role"]
        limit = max_prompt_chars if role in ("system", "user") else max_turn_chars
        content = _clip(str(m.get("content") or ""), limit)
        lines.append(f"**{role}**")
        lines.append("```")
        lines.append(content.replace("```", "'''"))
        lines.append("```")
    return "\n".join(lines) + "\n"


def write_samples(paths: RunPaths, phase: str, step: int, trajectories: Sequence[Trajectory],
                  count: int) -> pathlib.Path | None:
    """Writes up to `count` episodes (solved and failed ones alternately when both exist)."""
    if count <= 0 or not trajectories:
        return None
    solved = [t for t in trajectories if t.reward > 0]
    failed = [t for t in trajectories if t.reward <= 0]
    chosen: list[Trajectory] = []
    while len(chosen) < count and (solved or failed):
        for pool in (solved, failed):
            if pool and len(chosen) < count:
                chosen.append(pool.pop(0))
    path = paths.samples_file(phase, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {phase}, step {step}\n\n" + "\n".join(format_episode(t) for t in chosen))
    return path
