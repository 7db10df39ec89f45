"""Fewest single-character edits between two words, filling a stateful DP table cell by cell."""

import json
import random

TASK_DESCRIPTION = """Turn a first word into a second word using single-character edits: insert a character, delete a
character, or replace one character by another. Report the fewest edits needed.

Example: "horse", "ros" -> horse -> rorse -> rose -> ros -> answer 3."""


def _is_kind(value, kind):
    """Whether a JSON-decoded parameter value has the declared kind ("int", "list[int]", ...)."""
    if kind.startswith("list[") and kind.endswith("]"):
        return isinstance(value, list) and all(_is_kind(item, kind[5:-1]) for item in value)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "list":
        return isinstance(value, list)
    raise ValueError(f"unknown parameter kind {kind!r}")


class EditDistanceEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetCharA": {"index": "int"},
        "GetCharB": {"index": "int"},
        "ReadCell": {"i": "int", "j": "int"},
        "WriteCell": {"i": "int", "j": "int", "value": "int"},
        "MinOfThree": {"a": "int", "b": "int", "c": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetCharA": 1,
            "GetCharB": 2,
            "ReadCell": 3,
            "WriteCell": 4,
            "MinOfThree": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "EditDistanceEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return EditDistanceEnv(env_str=env_str)

    @property
    def finished(self):
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    def step(self, action):
        r"""
        Run one tool call and return its observation.

        Args:
            action (str): JSON text of the form {"name": <tool name>, "parameters": {...}}.

        Returns:
            tuple[bool, str]: (True, observation); every failure comes back as an "Error: ..." observation.
        """
        self.step_count += 1
        try:
            call = json.loads(action) if isinstance(action, str) else action
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                return True, "Error: the action must be a JSON object with a string 'name'"
            name = call["name"]
            params = call.get("parameters")
            params = {} if params is None else params
            if name not in self.func_mapping:
                return True, f"Error: unknown tool {name!r}; available tools: {', '.join(self.func_mapping)}"
            if not isinstance(params, dict):
                return True, "Error: 'parameters' must be a JSON object"
            expected = self._PARAM_TYPES[name]
            for key, kind in expected.items():
                if key not in params:
                    return True, f"Error: missing parameter {key!r} for {name}"
                if not _is_kind(params[key], kind):
                    got = type(params[key]).__name__
                    return True, f"Error: parameter {key!r} of {name} must be {kind}, got {got}"
            unexpected = sorted(set(params) - set(expected))
            if unexpected:
                return True, f"Error: unexpected parameter(s) {unexpected} for {name}"
            return True, str(getattr(self, name)(**params))
        except Exception as exc:  # the contract turns every failure into an observation
            return True, f"Error: {exc}"

    def _grade(self, answer, ref):
        correct = answer == ref
        self._reward = 1 if correct else 0
        self._done = True
        verdict = "Correct" if correct else "Incorrect"
        return f"Your answer: {answer}, Reference answer: {ref}, Result: {verdict}, reward={self._reward}"

    def reset(self, options=None):
        options = options or {}
        self.a = str(options.get("a", ""))
        self.b = str(options.get("b", ""))
        self.table = [[None] * (len(self.b) + 1) for _ in range(len(self.a) + 1)]
        for i in range(len(self.a) + 1):
            self.table[i][0] = i
        for j in range(len(self.b) + 1):
            self.table[0][j] = j
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        prev = list(range(len(self.b) + 1))
        for i, ca in enumerate(self.a, 1):
            cur = [i]
            for j, cb in enumerate(self.b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]

    def _check_cell(self, i, j):
        if not (0 <= i <= len(self.a) and 0 <= j <= len(self.b)):
            raise ValueError(f"cell ({i}, {j}) is outside the {len(self.a) + 1} x {len(self.b) + 1} table")

    def Observe(self):
        r"""
        Show the lengths of both words (the characters stay hidden).

        Args:
            None

        Returns:
            str: JSON with "len_a" and "len_b".

        Example Output:
            "{\"len_a\": 5, \"len_b\": 3}"
        """
        return json.dumps({"len_a": len(self.a), "len_b": len(self.b)})

    def GetCharA(self, index):
        r"""
        Read one character of the first word.

        Args:
            index (int): Position, 0-based.

        Returns:
            str: The character.

        Example Output:
            "h"
        """
        if not 0 <= index < len(self.a):
            raise ValueError(f"index {index} is outside 0..{len(self.a) - 1}")
        return self.a[index]

    def GetCharB(self, index):
        r"""
        Read one character of the second word.

        Args:
            index (int): Position, 0-based.

        Returns:
            str: The character.

        Example Output:
            "r"
        """
        if not 0 <= index < len(self.b):
            raise ValueError(f"index {index} is outside 0..{len(self.b) - 1}")
        return self.b[index]

    def ReadCell(self, i, j):
        r"""
        Read a cell of the distance table; row 0 and column 0 are filled in from the start.

        Args:
            i (int): Row: how many characters of the first word.
            j (int): Column: how many characters of the second word.

        Returns:
            str: The stored value, or "unset".

        Example Output:
            "3"
        """
        self._check_cell(i, j)
        return "unset" if self.table[i][j] is None else str(self.table[i][j])

    def WriteCell(self, i, j, value):
        r"""
        Store a value in a cell of the distance table.

        Args:
            i (int): Row.
            j (int): Column.
            value (int): The value to store.

        Returns:
            str: Confirmation.

        Example Output:
            "table[2][3] = 2"
        """
        self._check_cell(i, j)
        self.table[i][j] = value
        return f"table[{i}][{j}] = {value}"

    def MinOfThree(self, a, b, c):
        r"""
        The smallest of three integers.

        Args:
            a (int): First integer.
            b (int): Second integer.
            c (int): Third integer.

        Returns:
            str: min(a, b, c).

        Example Output:
            "2"
        """
        return str(min(a, b, c))

    def Done(self, answer):
        r"""
        Submit the fewest edits.

        Args:
            answer (int): The fewest edits.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 3, Reference answer: 3, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        info = json.loads(call("Observe"))
        m, n = info["len_a"], info["len_b"]
        a = [call("GetCharA", index=i) for i in range(m)]
        b = [call("GetCharB", index=j) for j in range(n)]
        prev = list(range(n + 1))
        for i in range(1, m + 1):
            cur = [i]
            for j in range(1, n + 1):
                value = int(call("MinOfThree", a=prev[j] + 1, b=cur[j - 1] + 1, c=prev[j - 1] + (a[i - 1] != b[j - 1])))
                call("WriteCell", i=i, j=j, value=value)
                cur.append(value)
            prev = cur
        return call("Done", answer=int(call("ReadCell", i=m, j=n)))


_SIZES = {"easy": (2, 4), "medium": (4, 7), "hard": (7, 10)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    alphabet = "abcdef"
    a = "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))
    b = list(a)
    for _ in range(rng.randint(1, max(1, len(a) // 2 + 1))):
        kind = rng.randint(0, 2)
        if kind == 0 and b:
            b[rng.randrange(len(b))] = rng.choice(alphabet)
        elif kind == 1 and len(b) > 1:
            del b[rng.randrange(len(b))]
        else:
            b.insert(rng.randint(0, len(b)), rng.choice(alphabet))
    b = b[: high]
    return "EditDistanceEnv@" + json.dumps({"a": a, "b": "".join(b)})
