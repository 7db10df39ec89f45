"""The packages a plain `./setup.sh` installs, as a folder a subprocess can run on.

`./setup.sh` (no `--dev`) installs requirements.txt and what those distributions require; the
test venv also holds the dev extras (torch, pytest, ...), which pull in packages of their own. A
module the main job imports that only the dev extras bring (jinja2 came in with torch once) would
pass every test and fail a user's first command. `build_site` links just the runtime closure into
one folder; a subprocess started with `python -S` and that folder on PYTHONPATH sees no other
installed distribution, neither its modules nor its metadata.
"""
from __future__ import annotations

import importlib.metadata as md
import os
import pathlib
import re

from packaging.requirements import Requirement

from xla_flags import child_env

REPO = pathlib.Path(__file__).resolve().parents[1]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(path: pathlib.Path) -> list[Requirement]:
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            raise ValueError(f"{path}:{number}: options are not expected in the runtime requirements: {line!r}")
        out.append(Requirement(line))
    return out


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": extra}) for extra in (extras or {""}))


def runtime_closure(requirements_file: pathlib.Path = REPO / "requirements.txt") -> set[str]:
    """Normalised names of the distributions the file names and, transitively, requires."""
    seen: set[str] = set()
    todo = [(req, set()) for req in _requirements(requirements_file)]
    while todo:
        req, parent_extras = todo.pop()
        if not _applies(req, parent_extras):
            continue
        name = normalize(req.name)
        if name in seen:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            raise ValueError(f"{req.name} (required through {requirements_file.name}) is not installed in "
                             f"this environment; rerun ./setup.sh --dev") from None
        seen.add(name)
        todo += [(Requirement(r), set(req.extras)) for r in dist.requires or []]
    return seen


def build_site(dest: pathlib.Path, requirements_file: pathlib.Path = REPO / "requirements.txt") -> pathlib.Path:
    """Links the top-level entries (packages, modules, .dist-info, .libs) of the runtime closure's
    distributions into `dest`. A namespace folder shared with another distribution comes whole."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in sorted(runtime_closure(requirements_file)):
        dist = md.distribution(name)
        root = pathlib.Path(dist.locate_file(""))
        for part in {pathlib.PurePath(f).parts[0] for f in dist.files or []}:
            if part in ("..", "__pycache__") or part.endswith(".pth"):
                continue
            link = dest / part
            if not link.exists() and (root / part).exists():
                link.symlink_to(root / part)
    return dest


def runtime_env(site: pathlib.Path) -> dict[str, str]:
    """The environment for `[sys.executable, "-S", ...]`: the runtime site, then the repository."""
    # one CPU device, as a user's run has
    return child_env(PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
