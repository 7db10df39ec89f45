"""Days to wait for a warmer day, using a stateful stack of waiting days and an answer sheet."""

import json
import random

TASK_DESCRIPTION = """You get the daily temperatures of a period as a list. For each day, report how many days later a
strictly warmer day first comes, or 0 if no warmer day follows. Report the sum of these waits
over all days.

Example: [73, 74, 75, 71, 69, 72, 76, 73] -> waits [1, 1, 4, 2, 1, 1, 0, 0] -> answer 10."""


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


class DailyTemperaturesEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "PushIndex": {"index": "int"},
        "PopIndex": {},
        "PeekIndex": {},
        "RecordWait": {"day": "int", "later_day": "int"},
        "ShowWaits": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "PushIndex": 2,
            "PopIndex": 3,
            "PeekIndex": 4,
            "RecordWait": 5,
            "ShowWaits": 6,
            "Done": 7,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "DailyTemperaturesEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return DailyTemperaturesEnv(env_str=env_str)

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
        self.nums = [int(x) for x in options.get("temps", [50])]
        self.stack = []
        self.waits = [0] * len(self.nums)
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        waits = [0] * len(self.nums)
        pending = []
        for i, t in enumerate(self.nums):
            while pending and self.nums[pending[-1]] < t:
                j = pending.pop()
                waits[j] = i - j
            pending.append(i)
        return sum(waits)

    def Observe(self):
        r"""
        Show how many numbers the list holds (the values stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 8}"
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
            "7"
        """
        if not 0 <= index < len(self.nums):
            raise ValueError(f"index {index} is outside 0..{len(self.nums) - 1}")
        return str(self.nums[index])

    def PushIndex(self, index):
        r"""
        Push a day index on top of the waiting stack.

        Args:
            index (int): Day index, 0-based.

        Returns:
            str: The stack, bottom to top, as a JSON list.

        Example Output:
            "[0, 2]"
        """
        if not 0 <= index < len(self.nums):
            raise ValueError(f"index {index} is outside 0..{len(self.nums) - 1}")
        self.stack.append(index)
        return json.dumps(self.stack)

    def PopIndex(self):
        r"""
        Remove and return the index on top of the waiting stack.

        Args:
            None

        Returns:
            str: The removed index.

        Example Output:
            "2"
        """
        if not self.stack:
            raise ValueError("the stack is empty")
        return str(self.stack.pop())

    def PeekIndex(self):
        r"""
        Show the index on top of the waiting stack without removing it.

        Args:
            None

        Returns:
            str: The top index, or "empty".

        Example Output:
            "0"
        """
        return str(self.stack[-1]) if self.stack else "empty"

    def RecordWait(self, day, later_day):
        r"""
        Note that the first warmer day after `day` is `later_day`; the sheet stores the gap.

        Args:
            day (int): The earlier day index.
            later_day (int): The later, warmer day index.

        Returns:
            str: The recorded gap.

        Example Output:
            "4"
        """
        n = len(self.nums)
        if not (0 <= day < later_day < n):
            raise ValueError(f"need 0 <= day < later_day < {n}, got {day}, {later_day}")
        self.waits[day] = later_day - day
        return str(later_day - day)

    def ShowWaits(self):
        r"""
        Show the answer sheet (days without a recorded gap show 0).

        Args:
            None

        Returns:
            str: The sheet as a JSON list.

        Example Output:
            "[1, 1, 4, 2, 1, 1, 0, 0]"
        """
        return json.dumps(self.waits)

    def Done(self, answer):
        r"""
        Submit the sum of the waits.

        Args:
            answer (int): The sum of the waits.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 10, Reference answer: 10, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["length"]
        temps = []
        for i in range(n):
            t = int(call("GetElement", index=i))
            temps.append(t)
            top = call("PeekIndex")
            while top != "empty" and temps[int(top)] < t:
                call("RecordWait", day=int(call("PopIndex")), later_day=i)
                top = call("PeekIndex")
            call("PushIndex", index=i)
        return call("Done", answer=sum(json.loads(call("ShowWaits"))))


_SIZES = {"easy": (3, 7), "medium": (9, 20), "hard": (22, 40)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    temps = [rng.randint(40, 90) for _ in range(rng.randint(low, high))]
    return "DailyTemperaturesEnv@" + json.dumps({"temps": temps})
