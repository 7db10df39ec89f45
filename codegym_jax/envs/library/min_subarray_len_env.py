"""Shortest contiguous slice with sum at least a target, using a stateful sliding window."""

import json
import random

TASK_DESCRIPTION = """You get a list of positive integers and a target. Find the shortest contiguous run of the list whose
sum is at least the target and report its length, or 0 if even the whole list falls short.

Example: nums [2, 3, 1, 2, 4, 3], target 7 -> the run [4, 3] -> answer 2."""


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


class MinSubarrayLenEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "ExtendWindow": {},
        "ShrinkWindow": {},
        "WindowState": {},
        "CompareToTarget": {"value": "int"},
        "RecordLength": {"length": "int"},
        "ShortestRecorded": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "ExtendWindow": 1,
            "ShrinkWindow": 2,
            "WindowState": 3,
            "CompareToTarget": 4,
            "RecordLength": 5,
            "ShortestRecorded": 6,
            "Done": 7,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "MinSubarrayLenEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return MinSubarrayLenEnv(env_str=env_str)

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
        self.nums = [int(x) for x in options.get("nums", [1])]
        self.target = int(options.get("target", 1))
        self.start = 0
        self.end = 0
        self.window_sum = 0
        self.shortest = None
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        best, start, total = 0, 0, 0
        for end, x in enumerate(self.nums):
            total += x
            while total >= self.target:
                length = end - start + 1
                best = length if best == 0 else min(best, length)
                total -= self.nums[start]
                start += 1
        return best

    def Observe(self):
        r"""
        Show the list length and the target (the numbers stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length" and "target".

        Example Output:
            "{\"length\": 6, \"target\": 7}"
        """
        return json.dumps({"length": len(self.nums), "target": self.target})

    def WindowState(self):
        r"""
        Show the window [start, end) and the sum of the numbers inside it; it starts empty at 0.

        Args:
            None

        Returns:
            str: JSON with "start", "end" and "sum".

        Example Output:
            "{\"start\": 2, \"end\": 5, \"sum\": 7}"
        """
        return json.dumps({"start": self.start, "end": self.end, "sum": self.window_sum})

    def ExtendWindow(self):
        r"""
        Grow the window by taking in the next number on its right.

        Args:
            None

        Returns:
            str: JSON with "start", "end" and "sum".

        Example Output:
            "{\"start\": 0, \"end\": 4, \"sum\": 8}"
        """
        if self.end >= len(self.nums):
            raise ValueError("the window already reaches the end of the list")
        self.window_sum += self.nums[self.end]
        self.end += 1
        return self.WindowState()

    def ShrinkWindow(self):
        r"""
        Drop the leftmost number from the window.

        Args:
            None

        Returns:
            str: JSON with "start", "end" and "sum".

        Example Output:
            "{\"start\": 1, \"end\": 4, \"sum\": 6}"
        """
        if self.start >= self.end:
            raise ValueError("the window is empty")
        self.window_sum -= self.nums[self.start]
        self.start += 1
        return self.WindowState()

    def CompareToTarget(self, value):
        r"""
        Compare a value with the target.

        Args:
            value (int): The value to compare.

        Returns:
            str: "less", "equal" or "greater".

        Example Output:
            "greater"
        """
        return "less" if value < self.target else "equal" if value == self.target else "greater"

    def RecordLength(self, length):
        r"""
        Offer a candidate length; the environment keeps the smallest one offered so far.

        Args:
            length (int): A candidate length.

        Returns:
            str: The smallest length recorded so far.

        Example Output:
            "2"
        """
        self.shortest = length if self.shortest is None else min(self.shortest, length)
        return str(self.shortest)

    def ShortestRecorded(self):
        r"""
        Show the smallest length recorded so far.

        Args:
            None

        Returns:
            str: The length, or "none" if nothing was recorded.

        Example Output:
            "2"
        """
        return "none" if self.shortest is None else str(self.shortest)

    def Done(self, answer):
        r"""
        Submit the shortest qualifying length (0 if none).

        Args:
            answer (int): The shortest qualifying length (0 if none).

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 2, Reference answer: 2, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["length"]
        for _ in range(n):
            w = json.loads(call("ExtendWindow"))
            while w["end"] > w["start"] and call("CompareToTarget", value=w["sum"]) != "less":
                call("RecordLength", length=w["end"] - w["start"])
                w = json.loads(call("ShrinkWindow"))
        best = call("ShortestRecorded")
        return call("Done", answer=0 if best == "none" else int(best))


_SIZES = {"easy": (3, 7), "medium": (9, 22), "hard": (24, 50)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    nums = [rng.randint(1, 20) for _ in range(rng.randint(low, high))]
    target = rng.randint(10, max(11, sum(nums) // 3)) if rng.random() < 0.9 else sum(nums) + 1
    return "MinSubarrayLenEnv@" + json.dumps({"nums": nums, "target": target})
