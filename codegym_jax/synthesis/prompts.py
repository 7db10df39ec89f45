"""Prompt texts of the pipeline's three LLM calls and the parser of their tagged output sections."""

import re

SYSTEM = ("You turn programming problems into interactive tool-use environments. Follow the output "
          "format exactly: every requested section between its <tag> and </tag> lines.")

# One-shot example (ours): a small environment for "sum of the k largest numbers".
EXAMPLE_ENV = r'''import json

TASK_DESCRIPTION = """Given a list of integers and k, report the sum of the k largest numbers."""


class TopKSumEnv:
    def __init__(self, env_str=None):
        self.func_mapping = {"Observe": 0, "Length": 1, "ValueAt": 2, "MaxIndexExcluding": 3, "Add": 4, "Done": 5}
        self.reset(json.loads(env_str.split("@", 1)[1]) if env_str else {})

    @staticmethod
    def from_env_str(env_str):
        return TopKSumEnv(env_str) if env_str.startswith("TopKSumEnv@") else None

    @property
    def finished(self):
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    def reset(self, options=None):
        options = options or {}
        self.nums, self.k = list(options.get("nums", [])), int(options.get("k", 0))
        self.step_count, self._reward, self._done = 0, 0, False
        return "Environment has been reset."

    def get_ref_answer(self):
        return sum(sorted(self.nums, reverse=True)[:self.k])

    def step(self, action):
        self.step_count += 1
        try:
            call = json.loads(action)
            name, params = call["name"], call.get("parameters") or {}
            if name not in self.func_mapping:
                return True, f"Error: unknown tool {name!r}"
            return True, str(getattr(self, name)(**params))
        except Exception as exc:
            return True, f"Error: {exc}"

    def Observe(self):
        r"""
        Show k.

        Args:
            None

        Returns:
            str: k.

        Example Output:
            "3"
        """
        return str(self.k)

    def Length(self):
        r"""
        Number of elements in the list.

        Args:
            None

        Returns:
            str: The length.

        Example Output:
            "6"
        """
        return str(len(self.nums))

    def ValueAt(self, index):
        r"""
        The element at a position.

        Args:
            index (int): 0-based position.

        Returns:
            str: The element.

        Example Output:
            "-4"
        """
        return str(self.nums[index])

    def MaxIndexExcluding(self, excluded):
        r"""
        Position of the largest element whose position is not listed.

        Args:
            excluded (list[int]): Positions to skip.

        Returns:
            str: The position, or -1 when none is left.

        Example Output:
            "2"
        """
        left = [i for i in range(len(self.nums)) if i not in set(excluded)]
        return str(max(left, key=lambda i: self.nums[i]) if left else -1)

    def Add(self, a, b):
        r"""
        Add two integers.

        Args:
            a (int): First addend.
            b (int): Second addend.

        Returns:
            str: a + b.

        Example Output:
            "7"
        """
        return str(a + b)

    def Done(self, answer):
        r"""
        Submit the answer.

        Args:
            answer (int): The sum of the k largest numbers.

        Returns:
            str: Verdict and reward.

        Example Output:
            "Your answer: 9, Reference answer: 9, Result: Correct, reward=1"
        """
        ref = self.get_ref_answer()
        self._reward, self._done = int(answer == ref), True
        verdict = "Correct" if answer == ref else "Incorrect"
        return f"Your answer: {answer}, Reference answer: {ref}, Result: {verdict}, reward={self._reward}"

    def solve(self):
        call = lambda name, **p: self.step(json.dumps({"name": name, "parameters": p}))[1]
        k, picked, total = int(call("Observe")), [], 0
        for _ in range(k):
            picked.append(int(call("MaxIndexExcluding", excluded=picked)))
            total = int(call("Add", a=total, b=int(call("ValueAt", index=picked[-1]))))
        return call("Done", answer=total)
'''

ENV_PROMPT = """Problem ID: {problem_id}
Stage: environment

Turn the problem below into an environment class in the style of the example.
Rules: only standard-library imports; a module-level TASK_DESCRIPTION; a class with func_mapping naming
PascalCase tools, one method per tool with an r\"\"\" docstring holding Args:, Returns: and Example Output:;
Observe() and Done(answer) among the tools; from_env_str("ClassName@{{json}}"), reset(options), step(action_json)
returning (True, observation) and turning every error into an observation starting with "Error:",
finished and reward properties, get_ref_answer(), and solve() that uses only self.step(...).
The tools must be small steps, so that solving an instance takes between 10 and 256 tool calls.

### Example problem
Given a list of integers and k, report the sum of the k largest numbers.

### Example output
<task_description>
Given a list of integers and k, report the sum of the k largest numbers.
</task_description>
<env_code>
{example_env}
</env_code>
<example_input>
{{"nums": [5, -4, 9, 1, 7, 3], "k": 3}}
</example_input>

### Problem
{statement}

### Reference solution
```python
{solution}
```

### Output
"""

TESTS_PROMPT = """Problem ID: {problem_id}
Stage: unit tests

Write {per_difficulty} test inputs for each difficulty (easy, medium, hard) of the problem below. Each input is
the JSON options dict that the environment's reset() reads, like the example input. Output one JSON
object per line: {{"difficulty": "easy"|"medium"|"hard", "input": {{...}}}}. Answers must stay short
(at most 100 characters) and each input must be solvable within 3 seconds.

### Problem
{statement}

### Example input
{example_input}

### Output
<unit_tests>
...
</unit_tests>
"""

ORACLE_PROMPT = """Problem ID: {problem_id}
Stage: oracle
Candidate: {candidate}

An environment offers the tools documented below. Write a Python method `def solve(self):` that
solves any instance by calling only `self.step(json.dumps({{"name": ..., "parameters": {{...}}}}))`
(it returns (True, observation_text)) and ends by calling Done with the answer. Use only the
standard library (json is imported).

### Task
{task_description}

### Tools
{tool_docs}

### Output
<solve>
def solve(self):
    ...
</solve>
"""


def sections(text: str) -> dict[str, str]:
    """Tagged sections `<name> ... </name>` of a reply (a ```python fence inside is removed)."""
    found = {}
    for match in re.finditer(r"<([a-z_]+)>\n?(.*?)\n?</\1>", text, re.S):
        body = match.group(2).strip("\n")
        fenced = re.fullmatch(r"\s*```[a-z]*\n(.*?)\n```\s*", body, re.S)
        found[match.group(1)] = fenced.group(1) if fenced else body
    return found


def env_messages(problem: dict) -> list[dict]:
    prompt = ENV_PROMPT.format(problem_id=problem["id"], example_env=EXAMPLE_ENV.strip("\n"),
                               statement=problem["statement"], solution=problem["solution"])
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]


def tests_messages(problem: dict, example_input: str, per_difficulty: int) -> list[dict]:
    prompt = TESTS_PROMPT.format(problem_id=problem["id"], statement=problem["statement"],
                                 example_input=example_input, per_difficulty=per_difficulty)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]


def oracle_messages(problem_id: str, candidate: int, task_description: str, tool_docs: str) -> list[dict]:
    prompt = ORACLE_PROMPT.format(problem_id=problem_id, candidate=candidate,
                                  task_description=task_description, tool_docs=tool_docs)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
