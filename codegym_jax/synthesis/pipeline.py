"""The five resumable stages (`stage_files.STAGES`). Each writes one JSONL record per problem to
<out>/<stage>.jsonl ({"id", "ok", "reason", ...}); a rerun skips the ids already there."""

import asyncio
import dataclasses
import json
import os
import re

from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool

from codegym_jax.envs.tasks import TaskInstance, write_tasks
from codegym_jax.envs.tool_docs import extract_env_spec, render_tool_docs
from codegym_jax.jsonl import open_append, read_jsonl
from codegym_jax.synthesis import checks, oracles, prompts, unit_tests
from codegym_jax.synthesis.config import SynthesisConfig
from codegym_jax.synthesis.llm_client import ChatClient, LLMError
from codegym_jax.synthesis.report import build_report
from codegym_jax.synthesis.stage_files import stage_path


def _stage_records(path: str) -> list[dict]:
    # A run killed mid-append leaves a torn last line: its item is simply done again.
    return read_jsonl(path, torn_tail_ok=True, missing_ok=True)


def _append(path: str, record: dict) -> None:
    with open_append(path) as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _reject(record_id: str, reason: str) -> dict:
    return {"id": record_id, "ok": False, "reason": reason}


async def _run_stage(out_dir: str, stage: str, items: list[dict], work) -> list[dict]:
    """Run `work(item) -> record` on items not yet in <stage>.jsonl; return all its records."""
    path = stage_path(out_dir, stage)
    done = {record["id"] for record in _stage_records(path)}

    async def one(item):
        record = await work(item)
        _append(path, record)  # appends happen on the event loop thread: lines never interleave

    await asyncio.gather(*(one(item) for item in items if item["id"] not in done))
    wanted = {item["id"] for item in items}
    return [record for record in _stage_records(path) if record["id"] in wanted]


async def generate_env(client: ChatClient, problem: dict) -> dict:
    try:
        reply = await client.complete(prompts.env_messages(problem))
    except LLMError as exc:
        return _reject(problem["id"], f"llm_error: {exc}")
    found = prompts.sections(reply)
    missing = [tag for tag in ("task_description", "env_code", "example_input") if tag not in found]
    if missing:
        return _reject(problem["id"], f"missing_sections: {missing}")
    return {"id": problem["id"], "ok": True, "reason": None, "env_code": found["env_code"],
            "task_description": found["task_description"], "example_input": found["example_input"]}


def check_env(pool: SandboxPool, item: dict) -> dict:
    reason, facts = checks.static_check(item["env_code"], item["example_input"])
    if reason is None:
        reason = checks.smoke_check(pool, item["env_code"], facts["env_str"])
    if reason is not None:
        return _reject(item["id"], reason)
    return dict(item, reason=None, **facts)


async def make_unit_tests(client, pool, config: SynthesisConfig, problem: dict, item: dict) -> dict:
    try:
        reply = await client.complete(prompts.tests_messages(problem, item["example_input"],
                                                             config.tests_per_difficulty))
    except LLMError as exc:
        return _reject(item["id"], f"llm_error: {exc}")
    tests, malformed = unit_tests.parse_unit_tests(prompts.sections(reply).get("unit_tests", ""))
    if not tests:
        return _reject(item["id"], f"unit_tests_format: no test in the expected format ({malformed} malformed lines)")

    def validate_all():
        return [unit_tests.validate_test(pool, item["env_code"], item["class_name"], problem.get("solution"),
                                         test, config.max_answer_chars) for test in tests]

    results = await asyncio.to_thread(validate_all)
    failures: dict[str, int] = {}
    if malformed:
        failures["malformed"] = malformed
    kept = []
    for test, (failure, env_str) in zip(tests, results):
        if failure is None:
            kept.append({"difficulty": test["difficulty"], "env_str": env_str})
        else:
            failures[failure] = failures.get(failure, 0) + 1
    total = len(tests) + malformed
    record = dict(item, kept_tests=kept, test_failures=failures, tests_total=total)
    if len(kept) < config.min_tests_passed or len(kept) < config.min_test_pass_rate * total:
        return dict(record, ok=False, reason=f"unit_tests_failed: {len(kept)}/{total} passed {failures}")
    return dict(record, reason=None)


async def make_oracle(client, pool, config: SynthesisConfig, item: dict) -> dict:
    spec = extract_env_spec(item["env_code"], item["class_name"])
    docs = render_tool_docs(spec)
    env_strs = [test["env_str"] for test in item["kept_tests"]]
    attempts = []
    for candidate in range(config.oracle_candidates):
        try:
            reply = await client.complete(prompts.oracle_messages(item["id"], candidate, item["task_description"], docs),
                                          sample=candidate)
        except LLMError as exc:
            attempts.append(f"llm_error: {exc}")
            break  # no endpoint reply: later samples would fail the same way
        solve_source = prompts.sections(reply).get("solve")
        if solve_source is None:
            attempts.append("missing_sections: ['solve']")
            continue
        try:
            source = oracles.attach_solve(item["env_code"], item["class_name"], solve_source)
        except (SyntaxError, ValueError) as exc:
            attempts.append(f"bad_candidate: {exc}")
            continue
        failure, steps = await asyncio.to_thread(oracles.check_candidate, pool, source, env_strs)
        if failure is None:
            return dict(item, reason=None, source=source, oracle_steps=steps, oracle_attempts=attempts,
                        accepted_candidate=candidate)
        attempts.append(f"failed_test: {failure}")
    return dict(_reject(item["id"], f"no_oracle: {len(attempts)} candidates failed"), oracle_attempts=attempts)


def filter_env(config: SynthesisConfig, item: dict, pass_at_k=None, env_file: str = "") -> dict:
    """Keep the env's tasks within the oracle-length band; with `pass_at_k(TaskInstance) -> float`
    (e.g. a policy's rollouts; the instance's env_file must exist then) drop the ones it solves
    at max_policy_pass_rate or more."""
    if len(item["tools"]) < config.min_tools:
        return _reject(item["id"], f"too_few_tools: {len(item['tools'])} < {config.min_tools}")
    tasks, dropped = [], {}
    for test, steps in zip(item["kept_tests"], item["oracle_steps"]):
        if not config.min_oracle_steps <= steps <= config.max_oracle_steps:
            why = "oracle_too_short" if steps < config.min_oracle_steps else "oracle_too_long"
        elif pass_at_k is not None and pass_at_k(TaskInstance(
                env_name=item["class_name"], env_str=test["env_str"], env_file=env_file, code_id=item["id"],
                difficulty=test["difficulty"], oracle_steps=steps,
                task_description=item["task_description"])) >= config.max_policy_pass_rate:
            why = "too_easy_for_policy"
        else:
            tasks.append(dict(test, oracle_steps=steps))
            continue
        dropped[why] = dropped.get(why, 0) + 1
    record = {"id": item["id"], "class_name": item["class_name"], "source": item["source"],
              "task_description": item["task_description"], "tasks": tasks, "dropped_tasks": dropped}
    if not tasks:
        return dict(record, ok=False, reason=f"no_task_left: {dropped}")
    return dict(record, ok=True, reason=None)


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def write_env_file(out_dir: str, class_name: str, source: str) -> str:
    env_dir = os.path.join(out_dir, "envs")
    os.makedirs(env_dir, exist_ok=True)
    env_file = os.path.join(env_dir, f"{snake_case(class_name)}.py")
    with open(env_file, "w", encoding="utf-8") as f:
        f.write(source)
    return env_file


def export(out_dir: str, records: list[dict]) -> list[TaskInstance]:
    tasks = []
    for record in records:
        env_file = write_env_file(out_dir, record["class_name"], record["source"])
        tasks += [TaskInstance(env_name=record["class_name"], env_str=t["env_str"], env_file=env_file,
                               code_id=record["id"], difficulty=t["difficulty"], oracle_steps=t["oracle_steps"],
                               task_description=record["task_description"]) for t in record["tasks"]]
    write_tasks(os.path.join(out_dir, "tasks.jsonl"), tasks)
    return tasks


async def run_pipeline(problems: list[dict], out_dir: str, config: SynthesisConfig = SynthesisConfig(),
                       client: ChatClient | None = None, pass_at_k=None) -> dict:
    """Run every stage over `problems` ({"id", "statement", "solution"}); return the report."""
    os.makedirs(out_dir, exist_ok=True)
    ids = [p["id"] for p in problems]
    if len(set(ids)) != len(ids):
        raise ValueError(f"problem ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    by_id = {p["id"]: p for p in problems}
    client = client or ChatClient(config.base_url, config.model, config.api_key,
                                  cache_dir=os.path.join(out_dir, "llm_cache"),
                                  max_in_flight=config.max_in_flight, max_retries=config.max_retries,
                                  backoff_s=config.backoff_s, timeout_s=config.request_timeout_s,
                                  temperature=config.temperature, max_tokens=config.max_tokens)
    test_limits = dataclasses.replace(SandboxLimits(), call_deadline_s=config.test_deadline_s,
                                      oracle_deadline_s=config.test_deadline_s,
                                      address_space_bytes=config.test_memory_bytes)
    with SandboxPool() as pool, \
            SandboxPool(limits=test_limits) as test_pool:
        ok = lambda records: [r for r in records if r["ok"]]
        envs = ok(await _run_stage(out_dir, "env_generation", problems, lambda p: generate_env(client, p)))
        checked = ok(await _run_stage(out_dir, "checks", envs,
                                      lambda item: asyncio.to_thread(check_env, pool, item)))
        tested = ok(await _run_stage(out_dir, "unit_tests", checked,
                                     lambda item: make_unit_tests(client, test_pool, config, by_id[item["id"]], item)))
        solved = ok(await _run_stage(out_dir, "oracles", tested, lambda item: make_oracle(client, pool, config, item)))

    async def filtered(item):
        env_file = write_env_file(out_dir, item["class_name"], item["source"]) if pass_at_k else ""
        return await asyncio.to_thread(filter_env, config, item, pass_at_k, env_file)

    kept = ok(await _run_stage(out_dir, "filters", solved, filtered))
    export(out_dir, kept)
    report = build_report(out_dir, ids)
    with open(os.path.join(out_dir, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    return report
