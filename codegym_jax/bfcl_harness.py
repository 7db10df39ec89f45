"""Score a model served over the OpenAI protocol with the Berkeley Function Calling Leaderboard's
own harness (the PyPI package `bfcl-eval`), run as subprocesses from its separate venv.

The route is bfcl's "local OSS model" one with the server already running:

    bfcl generate --model <handler> --test-category <cats> --skip-server-setup \\
                  --local-model-path <model_dir>          (env REMOTE_OPENAI_BASE_URL=<base_url>)
    bfcl evaluate --model <handler> --test-category <cats>

The handler (a bfcl registry name) decides the prompt format: it loads the tokenizer and config
from `model_dir` (only to count prompt tokens and read `max_position_embeddings`), renders the
chat markup itself and sends plain-text `POST /completions` with `model=<model_dir>`,
`max_tokens=min(4096, context - prompt_tokens - 2)` and the temperature; it first waits for
`GET /models` to answer 200. Multi-turn categories run the tool calls against bfcl's simulated
APIs and feed results back as further completions. No stop sequences are sent, so the server
must stop at the end-of-turn token itself, and must keep `<tool_call>` markup in the text it
returns. A request that still fails after the OpenAI client's own retries (2, on connection
errors, 408, 409, 429 and 5xx; none on 400) is not retried: bfcl records "Error during inference:
..." as that entry's answer, which grades as wrong, so `run_bfcl` counts those per category
(`errors`) and raises when every entry failed.

`.venv-bfcl` holds the harness (`./setup.sh --bfcl`, `.ci/bfcl_venv.sh`). `out_dir` becomes
bfcl's project root (BFCL_PROJECT_ROOT): it writes `result/`, `score/` and the id file there.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BFCL_VENV = REPO_ROOT / ".venv-bfcl"

# The categories that need nothing outside the machine: memory needs embedding models, web_search
# a search API, and the live_* ones are left for later.
OFFLINE_CATEGORIES = (
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel",
    "parallel_multiple", "irrelevance",
    "multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context",
)
# Our models speak Qwen2.5's tool-call markup (`<tool_call>\n{"name": ..., "arguments": {...}}\n
# </tool_call>` inside <|im_start|> turns). bfcl-eval 2026.3.23 has no Qwen2.5 handler; its
# QwenFCHandler (registry names "Qwen/Qwen3-*-FC") renders exactly that markup, with the tools as
# JSON lines in the system turn, and parses calls back with the same regex. The 0.6B name is
# arbitrary: the registry entry only picks the handler class, and nothing is downloaded because
# `--local-model-path` supplies the tokenizer.
DEFAULT_HANDLER = "Qwen/Qwen3-0.6B-FC"

RUN_RECORD = "bfcl_run.json"  # its presence marks out_dir's bfcl folders as ours to clear
ID_FILE = "test_case_ids_to_generate.json"
OWNED = ("result", "score", ID_FILE, "scores.json", "generate.log", "evaluate.log")
INFERENCE_ERROR = "Error during inference"


def find_bfcl_venv(path: str | os.PathLike | None = None) -> Path:
    """The venv holding bfcl-eval (default `<repo>/.venv-bfcl`); raises when it has no `bfcl`."""
    venv = Path(path) if path is not None else DEFAULT_BFCL_VENV
    if not (venv / "bin" / "bfcl").is_file():
        raise FileNotFoundError(
            f"no bfcl-eval environment at {venv} ({venv / 'bin' / 'bfcl'} is missing); "
            "make it with ./setup.sh --bfcl")
    return venv


def bfcl_data_dir(bfcl_venv: str | os.PathLike | None = None) -> Path:
    """The venv's installed `bfcl_eval/data` (prompts, and ground truth under possible_answer/)."""
    python = find_bfcl_venv(bfcl_venv) / "bin" / "python"
    # find_spec, not import: importing bfcl_eval's constants makes result/ and score/ folders.
    code = "import importlib.util as u; print(u.find_spec('bfcl_eval').submodule_search_locations[0])"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip()) / "data"


def first_ids(data_dir: str | os.PathLike, category: str, n: int) -> list[str]:
    """The first `n` entry ids of a category, in data-file order."""
    ids = []
    with open(Path(data_dir) / f"BFCL_v4_{category}.json", encoding="utf-8") as f:
        for line in f:
            if len(ids) == n:
                break
            ids.append(json.loads(line)["id"])
    return ids


def _check_categories(categories: Iterable[str]) -> tuple[str, ...]:
    categories = (categories,) if isinstance(categories, str) else tuple(categories)
    if not categories:
        raise ValueError(f"no categories given; choose from {', '.join(OFFLINE_CATEGORIES)}")
    for category in categories:
        if category not in OFFLINE_CATEGORIES:
            raise ValueError(f"unknown or not offline BFCL category {category!r}; "
                             f"choose from {', '.join(OFFLINE_CATEGORIES)}")
    return categories


def _check_server(base_url: str, api_key: str | None) -> None:
    """bfcl polls `GET <base_url>/models` until it answers 200, forever and without pause when it
    answers anything else, so a wrong URL is caught here instead."""
    request = urllib.request.Request(f"{base_url}/models",
                                     headers={"Authorization": f"Bearer {api_key or 'EMPTY'}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            reply.read()
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectionError(f"no OpenAI-compatible server at {base_url!r}: GET {request.full_url} "
                              f"failed ({exc}); base_url must include the /v1 prefix") from exc


def _prepare_out_dir(out_dir: str | os.PathLike, record: dict) -> Path:
    """Make `out_dir` ready for a fresh run. What an earlier run_bfcl wrote there (marked by its
    run record) is cleared, so results never mix across runs; bfcl folders without that mark are
    someone else's and are left alone: that raises instead."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if (out / ".env").exists():
        # bfcl loads <project root>/.env over the environment, which could redirect the server.
        raise FileExistsError(f"{out / '.env'} exists; bfcl would load it over our settings")
    if (out / RUN_RECORD).exists():
        for name in OWNED:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    else:
        foreign = [name for name in OWNED if (out / name).exists()]
        if foreign:
            raise FileExistsError(f"{out} already holds {', '.join(foreign)} not written by run_bfcl; "
                                  "use an empty folder")
    (out / RUN_RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return out


def _bfcl_env(out_dir: Path, base_url: str, api_key: str | None) -> dict[str, str]:
    # PYTHONPATH/VIRTUAL_ENV of the caller's venv must not leak into bfcl's interpreter, and a
    # REMOTE_OPENAI_TOKENIZER_PATH would load another tokenizer than model_dir's.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "REMOTE_OPENAI_TOKENIZER_PATH")}
    env.update(BFCL_PROJECT_ROOT=str(out_dir), REMOTE_OPENAI_BASE_URL=base_url,
               REMOTE_OPENAI_API_KEY=api_key or "EMPTY", HF_HUB_OFFLINE="1",
               PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    return env


def _run_phase(venv: Path, args: list[str], env: dict[str, str], log_path: Path,
              deadline: float | None, log: Callable[[str], object]) -> float:
    """Run `bfcl <args>` with its output in `log_path`; its duration in seconds. A failure or
    timeout raises with the end of the log."""
    command = [str(venv / "bin" / "bfcl"), *args]
    log(f"bfcl {args[0]}: output in {log_path}")
    start = time.monotonic()
    timeout = None if deadline is None else max(1.0, deadline - start)
    with open(log_path, "w", encoding="utf-8") as out:
        out.write(" ".join(command) + "\n")
        out.flush()
        try:
            rc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=env["BFCL_PROJECT_ROOT"], timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = None
    elapsed = time.monotonic() - start
    if rc != 0:
        tail = "".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines(True)[-40:])
        what = f"timed out after {elapsed:.0f} s" if rc is None else f"failed (exit {rc})"
        error = TimeoutError if rc is None else RuntimeError
        raise error(f"bfcl {args[0]} {what}; last lines of {log_path}:\n{tail}")
    log(f"bfcl {args[0]}: {elapsed:.1f} s")
    return elapsed


def _category_file(root: Path, handler: str, category: str, kind: str) -> Path:
    """bfcl's `<root>/<handler, / as _>/<group>/BFCL_v4_<category>_<kind>.json`."""
    found = sorted((root / handler.replace("/", "_")).rglob(f"BFCL_v4_{category}_{kind}.json"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one {kind} file for {category!r} under {root}, found {found}")
    return found[0]


def _count_inference_errors(out_dir: Path, handler: str, category: str) -> tuple[int, str]:
    """How many entries bfcl answered with an inference error, and the first such message."""
    count, first = 0, ""
    with open(_category_file(out_dir / "result", handler, category, "result"), encoding="utf-8") as f:
        for line in f:
            result = json.loads(line)["result"]
            if isinstance(result, str) and result.startswith(INFERENCE_ERROR):
                count, first = count + 1, first or result
    return count, first


def _read_score(out_dir: Path, handler: str, category: str) -> dict:
    with open(_category_file(out_dir / "score", handler, category, "score"), encoding="utf-8") as f:
        header = json.loads(f.readline())
    return {"accuracy": float(header["accuracy"]), "correct": int(header["correct_count"]),
            "total": int(header["total_count"])}


def run_bfcl(base_url: str, model_dir: str | os.PathLike, out_dir: str | os.PathLike,
             categories: Iterable[str] = OFFLINE_CATEGORIES, *, handler: str = DEFAULT_HANDLER,
             ids_per_category: int = 0, temperature: float = 0.0, num_threads: int = 32,
             api_key: str | None = None, bfcl_venv: str | os.PathLike | None = None,
             timeout_s: float | None = None, log: Callable[[str], object] = print) -> dict[str, dict]:
    """Generate and grade BFCL `categories` against the server at `base_url` (with /v1).

    `model_dir`: the served model's HF folder (config.json, tokenizer_config.json), read by bfcl
    for its tokenizer and sent as the request's `model`. `ids_per_category > 0` runs only the
    first N entries of each category (bfcl's --run-ids / --partial-eval); 0 runs all of them.
    `timeout_s` bounds both phases together. Returns (and writes to out_dir/scores.json, with the
    phase durations) {category: {"accuracy", "correct", "total", "errors"}}, `errors` counting the
    entries whose request failed.
    """
    categories = _check_categories(categories)
    if ids_per_category < 0:
        raise ValueError(f"ids_per_category must be >= 0, got {ids_per_category}")
    venv = find_bfcl_venv(bfcl_venv)
    model_dir = Path(model_dir).resolve()
    for name in ("config.json", "tokenizer_config.json"):
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"{model_dir} has no {name}; bfcl loads the tokenizer from it")
    base_url = base_url.rstrip("/")
    out = _prepare_out_dir(out_dir, {"base_url": base_url, "model_dir": str(model_dir), "handler": handler,
                                     "categories": list(categories), "ids_per_category": ids_per_category,
                                     "temperature": temperature})
    _check_server(base_url, api_key)
    select = ["--model", handler, "--test-category", ",".join(categories)]
    generate = ["generate", *select, "--temperature", str(temperature), "--num-threads", str(num_threads),
                "--skip-server-setup", "--local-model-path", str(model_dir)]
    evaluate = ["evaluate", *select]
    if ids_per_category > 0:
        data = bfcl_data_dir(venv)
        ids = {category: first_ids(data, category, ids_per_category) for category in categories}
        (out / ID_FILE).write_text(json.dumps(ids, indent=1) + "\n", encoding="utf-8")
        generate.append("--run-ids")
        evaluate.append("--partial-eval")
    env = _bfcl_env(out, base_url, api_key)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    generate_s = _run_phase(venv, generate, env, out / "generate.log", deadline, log)
    errors = {category: _count_inference_errors(out, handler, category) for category in categories}
    evaluate_s = _run_phase(venv, evaluate, env, out / "evaluate.log", deadline, log)
    scores = {category: {**_read_score(out, handler, category), "errors": errors[category][0]}
              for category in categories}
    (out / "scores.json").write_text(json.dumps(
        {"scores": scores, "generate_s": round(generate_s, 2), "evaluate_s": round(evaluate_s, 2)},
        indent=1) + "\n", encoding="utf-8")
    _report_errors(scores, errors, log)
    return scores


def _report_errors(scores: dict[str, dict], errors: dict[str, tuple[int, str]],
                  log: Callable[[str], object]) -> None:
    failed = sum(count for count, _ in errors.values())
    if not failed:
        return
    first = next(message for count, message in errors.values() if count)
    if failed == sum(score["total"] for score in scores.values()):
        raise RuntimeError(f"every request to the server failed; the first: {first[:2000]}")
    log(f"bfcl: {failed} entries failed at the server and count as wrong; the first: {first[:500]}")


def score_table(scores_by_policy: dict[str, dict]) -> str:
    """A markdown table: one row per policy label, one column per category any of them has (in
    OFFLINE_CATEGORIES order), accuracies as percentages, and the unweighted mean of each row."""
    present = {category for scores in scores_by_policy.values() for category in scores}
    columns = [c for c in OFFLINE_CATEGORIES if c in present] + sorted(present - set(OFFLINE_CATEGORIES))
    lines = ["| policy | " + " | ".join(columns) + " | overall |",
             "|---" * (len(columns) + 2) + "|"]
    for label, scores in scores_by_policy.items():
        accuracies = [scores[c]["accuracy"] for c in columns if c in scores]
        cells = [f"{100 * scores[c]['accuracy']:.1f}%" if c in scores else "–" for c in columns]
        overall = f"{100 * sum(accuracies) / len(accuracies):.1f}%" if accuracies else "–"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {overall} |")
    return "\n".join(lines)
