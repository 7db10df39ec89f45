"""Recorded chat completions for the synthesis tests and the shipped sample run.

No LLM is reachable here, so the completions are built from our own library environments (good
ones) and from deliberate mutations of them (broken ones). Test inputs come from each library
env's generate() run in the sandbox."""

import ast
import json
import os
import re
import textwrap

from codegym_jax.envs.env_str import parse_env_str

LIBRARY = os.path.join(os.path.dirname(__file__), "..", "codegym_jax", "envs", "library")


def library_source(file_name: str) -> str:
    with open(os.path.join(LIBRARY, file_name), encoding="utf-8") as f:
        return f.read()


def solve_method(source: str) -> str:
    """The env class's solve() as a top-level function (the shape an oracle reply has)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "solve":
            segment = ast.get_source_segment(source, node, padded=True)
            return textwrap.dedent(segment)
    raise ValueError("source has no solve()")


def task_description(source: str) -> str:
    """TASK_DESCRIPTION's text (read by pattern: broken variants need not parse)."""
    match = re.search(r'^TASK_DESCRIPTION = """(.*?)"""', source, re.S | re.M)
    if match is None:
        raise ValueError("source has no TASK_DESCRIPTION")
    return match.group(1)


def env_reply(source: str, example_input: dict, description: str | None = None) -> str:
    description = description or task_description(source)
    return (f"Here is the environment.\n<task_description>\n{description}\n</task_description>\n"
            f"<env_code>\n```python\n{source}\n```\n</env_code>\n<example_input>\n{json.dumps(example_input)}\n"
            f"</example_input>\n")


def tests_reply(tests: list[tuple[str, dict]]) -> str:
    lines = "\n".join(json.dumps({"difficulty": d, "input": i}) for d, i in tests)
    return f"<unit_tests>\n{lines}\n</unit_tests>\n"


def solve_reply(solve_source: str) -> str:
    return f"<solve>\n```python\n{solve_source}\n```\n</solve>\n"


def generated_tests(pool, source: str, per_difficulty: int) -> list[tuple[str, dict]]:
    """Inputs from the library env's own generate(seed, difficulty), run in the sandbox."""
    tests = []
    for difficulty in ("easy", "medium", "hard"):
        for seed in range(per_difficulty):
            _, params = parse_env_str(pool.call_function(source, "generate", seed, difficulty))
            tests.append((difficulty, params))
    return tests


def recording(problem_id: str, stage: str, content: str, candidate: int | None = None) -> dict:
    contains = [f"Problem ID: {problem_id}\n", f"Stage: {stage}\n"]
    if candidate is not None:
        contains.append(f"Candidate: {candidate}\n")
    return {"contains": contains, "content": content}


def good_env_recordings(problem_id: str, source: str, tests: list, candidates: list[str],
                        description: str | None = None) -> list[dict]:
    found = [recording(problem_id, "environment", env_reply(source, tests[-1][1], description)),
             recording(problem_id, "unit tests", tests_reply(tests))]
    found += [recording(problem_id, "oracle", solve_reply(c), k) for k, c in enumerate(candidates)]
    return found


# ---------------------------------------------------------------- mutations of count_primes_env.py
COUNT_PRIMES = "count_primes_env.py"


def count_primes_variant(kind: str) -> str:
    """The library's CountPrimesEnv with one deliberate defect (`kind`), or unchanged ("good")."""
    source = library_source(COUNT_PRIMES)
    edits = {
        "good": (None, None),
        "syntax_error": ("    def Observe(self):", "    def Observe(self)"),
        "missing_docstring": ('''        Example Output:
            "{\\"n\\": 20}"
''', ""),
        "hanging_tool": ('        return json.dumps({"n": self.n})', '        while True:\n            pass'),
        "wrong_ref_answer": ("        return count\n", "        return count + 1\n"),
        # get_ref_answer over the unit-test limits: hangs (n = 121), exceeds 100 MiB (n > 60000),
        # answers with more than 100 characters (2000 < n < 2600)
        "resource_hog": ("        if self.n < 3:\n            return 0\n",
                         "        if self.n == 121:\n            while True:\n                pass\n"
                         "        if self.n > 60000:\n            return len(bytearray(400 << 20))\n"
                         "        if 2000 < self.n < 2600:\n            return \"7\" * 200\n"
                         "        if self.n < 3:\n            return 0\n"),
        "broken_tool": ("for x in range(p * p, self.n, p):", "for x in range(p * p, self.n, p + 1):"),
        "two_classes": ("\n\n_ROOTS", "\n\nclass SecondEnv:\n    def __init__(self):\n        self.func_mapping = {}\n\n\n_ROOTS"),
        "third_party_import": ("import json\n", "import json\nimport numpy\n"),
    }
    old, new = edits[kind]
    if old is None:
        return source
    if old not in source:
        raise ValueError(f"mutation {kind!r}: {old!r} not found in {COUNT_PRIMES}")
    return source.replace(old, new, 1)


# Prime counting written from the tool docs alone; the faulty one stops counting one short of n
# (wrong exactly when n - 1 is prime).
COUNT_PRIMES_SOLVE = '''def solve(self):
    call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
    n = json.loads(call("Observe"))["n"]
    limit = int(call("IntegerSqrt", x=n))
    p = int(call("NextUncrossed", after=1))
    while p != -1 and p <= limit:
        call("CrossOutMultiples", p=p)
        p = int(call("NextUncrossed", after=p))
    return call("Done", answer=int(call("CountUncrossed", low=2, high=n)))
'''
COUNT_PRIMES_SOLVE_OFF_BY_ONE = COUNT_PRIMES_SOLVE.replace("high=n)", "high=n - 1)")


def count_primes_tests() -> list[tuple[str, dict]]:
    """30 inputs; n - 1 is prime only for n = 20 (which also has a short oracle: < 10 calls)."""
    easy = [20] + [121 + 12 * i for i in range(9)]  # odd n > 20: n - 1 is even, hence composite
    medium = [2001 + 250 * i for i in range(10)]
    hard = [40001 + 4000 * i for i in range(10)]
    return [("easy", {"n": n}) for n in easy] + [("medium", {"n": n}) for n in medium] + \
        [("hard", {"n": n}) for n in hard]
