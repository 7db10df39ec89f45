"""Longest run of a string with no repeated character, using a stateful window and character set."""

import json
import random

TASK_DESCRIPTION = """Given a string, find the longest contiguous piece of it in which no character appears twice and
report that piece's length.

Example: "abcabcbb" -> "abc" -> answer 3."""


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


class LongestUniqueSubstringEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetChar": {"index": "int"},
        "WindowContains": {"char": "str"},
        "AddToWindow": {},
        "RemoveFromWindow": {},
        "WindowState": {},
        "MaxOfTwo": {"a": "int", "b": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetChar": 1,
            "WindowContains": 2,
            "AddToWindow": 3,
            "RemoveFromWindow": 4,
            "WindowState": 5,
            "MaxOfTwo": 6,
            "Done": 7,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "LongestUniqueSubstringEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return LongestUniqueSubstringEnv(env_str=env_str)

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
        self.text = str(options.get("text", "a"))
        self.start = 0
        self.end = 0
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        best, start, last = 0, 0, {}
        for i, ch in enumerate(self.text):
            if last.get(ch, -1) >= start:
                start = last[ch] + 1
            last[ch] = i
            best = max(best, i - start + 1)
        return best

    def Observe(self):
        r"""
        Show the string length (the characters stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 8}"
        """
        return json.dumps({"length": len(self.text)})

    def GetChar(self, index):
        r"""
        Read one character of the string.

        Args:
            index (int): Position, 0-based.

        Returns:
            str: The character.

        Example Output:
            "b"
        """
        if not 0 <= index < len(self.text):
            raise ValueError(f"index {index} is outside 0..{len(self.text) - 1}")
        return self.text[index]

    def WindowState(self):
        r"""
        Show the window [start, end) of the string; it starts empty at 0.

        Args:
            None

        Returns:
            str: JSON with "start", "end" and "size".

        Example Output:
            "{\"start\": 1, \"end\": 4, \"size\": 3}"
        """
        return json.dumps({"start": self.start, "end": self.end, "size": self.end - self.start})

    def WindowContains(self, char):
        r"""
        Tell whether a character occurs inside the window.

        Args:
            char (str): A single character.

        Returns:
            str: "true" or "false".

        Example Output:
            "true"
        """
        if len(char) != 1:
            raise ValueError(f"expected one character, got {char!r}")
        return json.dumps(char in self.text[self.start:self.end])

    def AddToWindow(self):
        r"""
        Grow the window by the next character on its right.

        Args:
            None

        Returns:
            str: JSON with "start", "end" and "size".

        Example Output:
            "{\"start\": 1, \"end\": 5, \"size\": 4}"
        """
        if self.end >= len(self.text):
            raise ValueError("the window already reaches the end of the string")
        self.end += 1
        return self.WindowState()

    def RemoveFromWindow(self):
        r"""
        Drop the leftmost character of the window.

        Args:
            None

        Returns:
            str: JSON with "start", "end" and "size".

        Example Output:
            "{\"start\": 2, \"end\": 5, \"size\": 3}"
        """
        if self.start >= self.end:
            raise ValueError("the window is empty")
        self.start += 1
        return self.WindowState()

    def MaxOfTwo(self, a, b):
        r"""
        The larger of two integers.

        Args:
            a (int): First integer.
            b (int): Second integer.

        Returns:
            str: max(a, b).

        Example Output:
            "12"
        """
        return str(max(a, b))

    def Done(self, answer):
        r"""
        Submit the length of the longest piece without repeats.

        Args:
            answer (int): The length of the longest piece without repeats.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 3, Reference answer: 3, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["length"]
        best = 0
        for i in range(n):
            ch = call("GetChar", index=i)
            while call("WindowContains", char=ch) == "true":
                call("RemoveFromWindow")
            size = json.loads(call("AddToWindow"))["size"]
            best = int(call("MaxOfTwo", a=best, b=size))
        return call("Done", answer=best)


_SIZES = {"easy": (3, 6), "medium": (9, 20), "hard": (22, 42)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    alphabet = "abcdefghij"[: rng.randint(4, 10)]
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))
    return "LongestUniqueSubstringEnv@" + json.dumps({"text": text})
