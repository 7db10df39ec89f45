"""requirements.txt alone carries the main job: on the runtime closure (tests/runtime_site.py) the
dev extras are invisible, and the chat template renders; without its jinja2 line it does not.
The end-to-end run (test_experiment_run.py) runs every stage on the same closure."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from runtime_site import REPO, build_site, runtime_closure, runtime_env

RENDER_CHAT = """
from codegym_jax.rollout import chat_format, tokenizer
tok = tokenizer.load(str(tokenizer.SHIPPED_DIR))
messages = [{"role": "system", "content": "tools"}, {"role": "user", "content": "Observe first."}]
print(chat_format.render(tok, messages, None, add_generation_prompt=True), end="")
"""


def run_on(site: pathlib.Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-S", "-c", code], cwd=REPO, env=runtime_env(site),
                          capture_output=True, text=True, timeout=300)


def test_runtime_site_hides_the_dev_extras(tmp_path):
    site = build_site(tmp_path / "site")
    probe = run_on(site, "import importlib.metadata as md, importlib.util as u\n"
                         "for name in ('torch', 'pytest', 'hypothesis', 'jax', 'transformers', 'jinja2'):\n"
                         "    print(name, u.find_spec(name) is not None, name in {d.metadata['Name'].lower() "
                         "for d in md.distributions()})")
    assert probe.returncode == 0, probe.stderr
    seen = {line.split()[0]: line.split()[1:] for line in probe.stdout.splitlines()}
    for dev_only in ("torch", "pytest", "hypothesis"):
        assert seen[dev_only] == ["False", "False"], probe.stdout
    for runtime in ("jax", "transformers", "jinja2"):
        assert seen[runtime] == ["True", "True"], probe.stdout


def test_chat_template_renders_on_the_runtime_requirements(tmp_path):
    shown = run_on(build_site(tmp_path / "site"), RENDER_CHAT)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert shown.stdout.startswith("<|im_start|>system\ntools<|im_end|>\n")
    assert shown.stdout.endswith("<|im_start|>user\nObserve first.<|im_end|>\n<|im_start|>assistant\n")


def test_without_jinja2_the_chat_template_fails(tmp_path):
    # transformers does not depend on jinja2; only requirements.txt's own line brings it.
    lines = (REPO / "requirements.txt").read_text().splitlines()
    assert "jinja2==3.1.6" in lines
    trimmed = tmp_path / "requirements.txt"
    trimmed.write_text("\n".join(line for line in lines if not line.startswith("jinja2")) + "\n")
    assert "jinja2" not in runtime_closure(trimmed)
    shown = run_on(build_site(tmp_path / "site", trimmed), RENDER_CHAT)
    assert shown.returncode != 0 and "requires jinja2" in shown.stderr, shown.stderr[-3000:]


def test_a_requirement_not_installed_is_named(tmp_path):
    bad = tmp_path / "requirements.txt"
    bad.write_text("numpy==2.5.5\nno-such-distribution==1.0\n")
    with pytest.raises(ValueError, match="no-such-distribution .* is not installed"):
        runtime_closure(bad)
