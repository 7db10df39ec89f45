"""Fewest intervals to remove so that the rest do not overlap."""

import json
import random

TASK_DESCRIPTION = """A hidden list holds intervals [start, end) with start < end. Two intervals overlap
when they share some time; intervals that only touch (one ends where the next starts) do not overlap.
Only the number of intervals is visible at first; intervals are read by index, and the environment
records which intervals you keep and which you remove. Report the smallest number of intervals that
must be removed so that no two remaining intervals overlap.

Example: [[1, 2], [2, 3], [3, 4], [1, 3]] -> answer 1."""


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


class EraseOverlapIntervalsEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "SortByEnd": {},
        "GetInterval": {"index": "int"},
        "KeepInterval": {"index": "int"},
        "RemoveInterval": {"index": "int"},
        "LastKeptEnd": {},
        "RemovedCount": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "SortByEnd": 1,
            "GetInterval": 2,
            "KeepInterval": 3,
            "RemoveInterval": 4,
            "LastKeptEnd": 5,
            "RemovedCount": 6,
            "Done": 7,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "EraseOverlapIntervalsEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return EraseOverlapIntervalsEnv(env_str=env_str)

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
        self.intervals = [list(iv) for iv in options.get("intervals", [])]
        self.kept = []
        self.removed = []
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        removed, last_end = 0, None
        for start, end in sorted(self.intervals, key=lambda iv: iv[1]):
            if last_end is None or start >= last_end:
                last_end = end
            else:
                removed += 1
        return removed

    def _check_index(self, index):
        if not 0 <= index < len(self.intervals):
            raise ValueError(f"index {index} is outside 0..{len(self.intervals) - 1}")
        if index in self.kept or index in self.removed:
            raise ValueError(f"interval {index} has already been kept or removed")

    def Observe(self):
        r"""
        Show how many intervals there are and how many have been kept or removed.

        Args:
            None

        Returns:
            str: JSON with "count", "kept" and "removed".

        Example Output:
            "{\"count\": 4, \"kept\": 0, \"removed\": 0}"
        """
        return json.dumps({"count": len(self.intervals), "kept": len(self.kept), "removed": len(self.removed)})

    def SortByEnd(self):
        r"""
        Sort the hidden list by end (then start); only allowed before any keep/remove decision.

        Args:
            None

        Returns:
            str: A confirmation message.

        Example Output:
            "Intervals sorted by end."
        """
        if self.kept or self.removed:
            raise ValueError("cannot reorder after decisions were recorded")
        self.intervals.sort(key=lambda iv: (iv[1], iv[0]))
        return "Intervals sorted by end."

    def GetInterval(self, index):
        r"""
        Read the interval at an index of the hidden list.

        Args:
            index (int): Position in the list, from 0.

        Returns:
            str: JSON [start, end].

        Example Output:
            "[1, 3]"
        """
        if not 0 <= index < len(self.intervals):
            raise ValueError(f"index {index} is outside 0..{len(self.intervals) - 1}")
        return json.dumps(self.intervals[index])

    def KeepInterval(self, index):
        r"""
        Record that the interval at an index stays.

        Args:
            index (int): Position in the list.

        Returns:
            str: The number of kept intervals afterwards.

        Example Output:
            "3"
        """
        self._check_index(index)
        self.kept.append(index)
        return str(len(self.kept))

    def RemoveInterval(self, index):
        r"""
        Record that the interval at an index is removed.

        Args:
            index (int): Position in the list.

        Returns:
            str: The number of removed intervals afterwards.

        Example Output:
            "1"
        """
        self._check_index(index)
        self.removed.append(index)
        return str(len(self.removed))

    def LastKeptEnd(self):
        r"""
        Read the end of the most recently kept interval.

        Args:
            None

        Returns:
            str: The end value, or "none" if nothing has been kept.

        Example Output:
            "3"
        """
        return str(self.intervals[self.kept[-1]][1]) if self.kept else "none"

    def RemovedCount(self):
        r"""
        Count the intervals recorded as removed.

        Args:
            None

        Returns:
            str: The number of removed intervals.

        Example Output:
            "1"
        """
        return str(len(self.removed))

    def Done(self, answer):
        r"""
        Submit the minimum number of removals.

        Args:
            answer (int): How many intervals must be removed.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 1, Reference answer: 1, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        count = json.loads(call("Observe"))["count"]
        call("SortByEnd")
        for index in range(count):
            start, _ = json.loads(call("GetInterval", index=index))
            last_end = call("LastKeptEnd")
            if last_end == "none" or start >= int(last_end):
                call("KeepInterval", index=index)
            else:
                call("RemoveInterval", index=index)
        return call("Done", answer=int(call("RemovedCount")))


_SIZES = {"easy": (3, 10), "medium": (12, 36), "hard": (35, 80)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    count = rng.randint(low, high)
    intervals = []
    for _ in range(count):
        start = rng.randint(0, count * 4)
        intervals.append([start, start + rng.randint(1, 12)])
    return "EraseOverlapIntervalsEnv@" + json.dumps({"intervals": intervals})
