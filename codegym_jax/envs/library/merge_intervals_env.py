"""Merge overlapping intervals and count what remains."""

import json
import random

TASK_DESCRIPTION = """A hidden list holds closed intervals [start, end]. Intervals that overlap or touch
(one starts exactly where another ends) are merged into one. Only the number of intervals is visible
at first; individual intervals are read by index. Report how many intervals remain after all merging.

Example: [[1, 3], [8, 10], [2, 6], [10, 12]] -> [[1, 6], [8, 12]] -> answer 2."""


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


class MergeIntervalsEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "SortByStart": {},
        "GetInterval": {"index": "int"},
        "Overlaps": {"first": "list[int]", "second": "list[int]"},
        "MergePair": {"first": "list[int]", "second": "list[int]"},
        "IntervalLength": {"interval": "list[int]"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "SortByStart": 1,
            "GetInterval": 2,
            "Overlaps": 3,
            "MergePair": 4,
            "IntervalLength": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "MergeIntervalsEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return MergeIntervalsEnv(env_str=env_str)

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
        self.sorted = False
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        merged = []
        for start, end in sorted(self.intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return len(merged)

    @staticmethod
    def _check_pair(interval):
        if len(interval) != 2 or interval[0] > interval[1]:
            raise ValueError(f"an interval must be [start, end] with start <= end, got {interval}")

    def Observe(self):
        r"""
        Show how many intervals there are and whether the list has been sorted.

        Args:
            None

        Returns:
            str: JSON with "count" and "sorted".

        Example Output:
            "{\"count\": 4, \"sorted\": false}"
        """
        return json.dumps({"count": len(self.intervals), "sorted": self.sorted})

    def SortByStart(self):
        r"""
        Sort the hidden list by start (then end), changing which interval each index refers to.

        Args:
            None

        Returns:
            str: A confirmation message.

        Example Output:
            "Intervals sorted by start."
        """
        self.intervals.sort()
        self.sorted = True
        return "Intervals sorted by start."

    def GetInterval(self, index):
        r"""
        Read the interval at an index of the hidden list.

        Args:
            index (int): Position in the list, from 0.

        Returns:
            str: JSON [start, end].

        Example Output:
            "[2, 6]"
        """
        if not 0 <= index < len(self.intervals):
            raise ValueError(f"index {index} is outside 0..{len(self.intervals) - 1}")
        return json.dumps(self.intervals[index])

    def Overlaps(self, first, second):
        r"""
        Tell whether two intervals overlap or touch.

        Args:
            first (list[int]): An interval [start, end].
            second (list[int]): Another interval [start, end].

        Returns:
            str: "true" or "false".

        Example Output:
            "true"
        """
        self._check_pair(first)
        self._check_pair(second)
        return json.dumps(first[0] <= second[1] and second[0] <= first[1])

    def MergePair(self, first, second):
        r"""
        Join two overlapping or touching intervals into one.

        Args:
            first (list[int]): An interval [start, end].
            second (list[int]): An interval [start, end] that overlaps or touches the first.

        Returns:
            str: JSON [start, end] of the joined interval.

        Example Output:
            "[1, 6]"
        """
        self._check_pair(first)
        self._check_pair(second)
        if not (first[0] <= second[1] and second[0] <= first[1]):
            raise ValueError(f"{first} and {second} do not overlap")
        return json.dumps([min(first[0], second[0]), max(first[1], second[1])])

    def IntervalLength(self, interval):
        r"""
        Length of an interval (end - start).

        Args:
            interval (list[int]): An interval [start, end].

        Returns:
            str: end - start.

        Example Output:
            "5"
        """
        self._check_pair(interval)
        return str(interval[1] - interval[0])

    def Done(self, answer):
        r"""
        Submit the number of intervals left after merging.

        Args:
            answer (int): The count of merged intervals.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 2, Reference answer: 2, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        count = json.loads(call("Observe"))["count"]
        call("SortByStart")
        current, merged = None, 0
        for index in range(count):
            interval = json.loads(call("GetInterval", index=index))
            if current is not None and json.loads(call("Overlaps", first=current, second=interval)):
                current = json.loads(call("MergePair", first=current, second=interval))
            else:
                merged += 1
                current = interval
        return call("Done", answer=merged)


_SIZES = {"easy": (4, 9), "medium": (15, 35), "hard": (45, 80)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    count = rng.randint(low, high)
    span = count * 6
    intervals = []
    for _ in range(count):
        start = rng.randint(0, span)
        intervals.append([start, start + rng.randint(0, 8)])
    rng.shuffle(intervals)
    return "MergeIntervalsEnv@" + json.dumps({"intervals": intervals})
