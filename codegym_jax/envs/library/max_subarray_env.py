"""Largest sum of a contiguous non-empty slice of an integer array, read one element at a time."""

import json
import random

TASK_DESCRIPTION = """You are given a list of integers, some of them negative. Among all contiguous, non-empty runs of
the list, find the one whose elements add up to the most and report that sum.

Example: [-2, 1, -3, 4, -1, 2, 1, -5, 4] -> the run [4, -1, 2, 1] -> answer 6."""


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


class MaxSubarrayEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "ExtendOrRestart": {"running": "int", "value": "int"},
        "RecordCandidate": {"value": "int"},
        "BestRecorded": {},
        "AddNumbers": {"a": "int", "b": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "ExtendOrRestart": 2,
            "RecordCandidate": 3,
            "BestRecorded": 4,
            "AddNumbers": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "MaxSubarrayEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return MaxSubarrayEnv(env_str=env_str)

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
        self.best = None
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        best = running = self.nums[0]
        for x in self.nums[1:]:
            running = max(x, running + x)
            best = max(best, running)
        return best

    def Observe(self):
        r"""
        Show how many numbers the list holds (the values stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 9}"
        """
        return json.dumps({"length": len(self.nums)})

    def GetElement(self, index):
        r"""
        Read one number of the list.

        Args:
            index (int): Position, 0-based.

        Returns:
            str: The number at that position.

        Example Output:
            "-3"
        """
        if not 0 <= index < len(self.nums):
            raise ValueError(f"index {index} is outside 0..{len(self.nums) - 1}")
        return str(self.nums[index])

    def ExtendOrRestart(self, running, value):
        r"""
        Best sum of a run that ends at the current number: either continue the previous run or start afresh.

        Args:
            running (int): Best sum of a run ending just before the current number.
            value (int): The current number.

        Returns:
            str: max(value, running + value).

        Example Output:
            "4"
        """
        return str(max(value, running + value))

    def RecordCandidate(self, value):
        r"""
        Offer a candidate sum; the environment keeps the largest one offered so far.

        Args:
            value (int): A candidate sum.

        Returns:
            str: The largest candidate recorded so far.

        Example Output:
            "6"
        """
        self.best = value if self.best is None else max(self.best, value)
        return str(self.best)

    def BestRecorded(self):
        r"""
        Show the largest candidate recorded so far.

        Args:
            None

        Returns:
            str: The value, or "none" if nothing was recorded.

        Example Output:
            "6"
        """
        return "none" if self.best is None else str(self.best)

    def AddNumbers(self, a, b):
        r"""
        Add two integers.

        Args:
            a (int): First addend.
            b (int): Second addend.

        Returns:
            str: a + b.

        Example Output:
            "3"
        """
        return str(a + b)

    def Done(self, answer):
        r"""
        Submit the largest run sum.

        Args:
            answer (int): The largest sum of a contiguous non-empty run.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 6, Reference answer: 6, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["length"]
        running = int(call("GetElement", index=0))
        call("RecordCandidate", value=running)
        for i in range(1, n):
            x = int(call("GetElement", index=i))
            running = int(call("ExtendOrRestart", running=running, value=x))
            call("RecordCandidate", value=running)
        return call("Done", answer=int(call("BestRecorded")))


_SIZES = {"easy": (4, 11), "medium": (14, 38), "hard": (36, 80)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    nums = [rng.randint(-30, 30) for _ in range(rng.randint(low, high))]
    return "MaxSubarrayEnv@" + json.dumps({"nums": nums})
