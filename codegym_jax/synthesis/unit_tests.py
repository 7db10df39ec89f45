"""Stage 3: parse the LLM's unit-test inputs and validate each in the sandbox."""

import json

from codegym_jax.envs.env_str import format_env_str
from codegym_jax.envs.tasks import DIFFICULTIES

REFERENCE_FUNCTION = "solve_problem"  # the shipped reference solutions define solve_problem(options)


def parse_unit_tests(text: str) -> tuple[list[dict], int]:
    """(tests, malformed line count). A test is {"difficulty": ..., "input": {...}}."""
    tests, malformed = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            malformed += 1
            continue
        if (isinstance(record, dict) and set(record) == {"difficulty", "input"}
                and record["difficulty"] in DIFFICULTIES and isinstance(record["input"], dict)):
            tests.append(record)
        else:
            malformed += 1
    return tests, malformed


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def validate_test(pool, source: str, class_name: str, reference: str | None, test: dict,
                  max_answer_chars: int) -> tuple[str | None, str]:
    """(failure reason or None, env_str). `pool` carries the unit-test time and memory limits."""
    env_str = format_env_str(class_name, test["input"])
    try:
        answer = pool.get_ref_answer(source, env_str)
    except Exception as exc:
        return f"ref_answer_{getattr(exc, 'kind', 'error')}", env_str
    if len(json.dumps(answer)) > max_answer_chars:
        return "answer_too_long", env_str
    if reference is not None:
        try:
            expected = pool.call_function(reference, REFERENCE_FUNCTION, test["input"])
        except Exception as exc:
            return f"reference_solution_{getattr(exc, 'kind', 'error')}", env_str
        if not _same(answer, expected):
            return "disagrees_with_reference", env_str
    return None, env_str
