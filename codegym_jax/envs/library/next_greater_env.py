"""Next strictly greater element to the right of every position, with a stateful monotonic stack."""

import json
import random

TASK_DESCRIPTION = """For every number in a list, find the first number to its right that is strictly larger. Where no
such number exists, use -1. Report the sum of these values over all positions.

Example: [4, 1, 2, 5, 3] -> next greater values [5, 2, 5, -1, -1] -> answer 10."""


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


class NextGreaterEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "PushIndex": {"index": "int"},
        "PopIndex": {},
        "PeekIndex": {},
        "SetResult": {"index": "int", "value": "int"},
        "ShowResults": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "PushIndex": 2,
            "PopIndex": 3,
            "PeekIndex": 4,
            "SetResult": 5,
            "ShowResults": 6,
            "Done": 7,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "NextGreaterEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return NextGreaterEnv(env_str=env_str)

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
        self.stack = []
        self.results = [-1] * len(self.nums)
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        out = [-1] * len(self.nums)
        pending = []
        for i, x in enumerate(self.nums):
            while pending and self.nums[pending[-1]] < x:
                out[pending.pop()] = x
            pending.append(i)
        return sum(out)

    def Observe(self):
        r"""
        Show how many numbers the list holds (the values stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 5}"
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
        Push a position on top of the stack.

        Args:
            index (int): Position, 0-based.

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
        Remove and return the index on top of the stack.

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
        Show the index on top of the stack without removing it.

        Args:
            None

        Returns:
            str: The top index, or "empty".

        Example Output:
            "0"
        """
        return str(self.stack[-1]) if self.stack else "empty"

    def SetResult(self, index, value):
        r"""
        Write the answer for one position on the result sheet (every entry starts as -1).

        Args:
            index (int): Position, 0-based.
            value (int): The next greater number for that position.

        Returns:
            str: Confirmation.

        Example Output:
            "result[1] = 2"
        """
        if not 0 <= index < len(self.nums):
            raise ValueError(f"index {index} is outside 0..{len(self.nums) - 1}")
        self.results[index] = value
        return f"result[{index}] = {value}"

    def ShowResults(self):
        r"""
        Show the result sheet.

        Args:
            None

        Returns:
            str: The sheet as a JSON list.

        Example Output:
            "[5, 2, 5, -1, -1]"
        """
        return json.dumps(self.results)

    def Done(self, answer):
        r"""
        Submit the sum of the next greater values.

        Args:
            answer (int): The sum of the next greater values.

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
        values = []
        for i in range(n):
            x = int(call("GetElement", index=i))
            values.append(x)
            top = call("PeekIndex")
            while top != "empty" and values[int(top)] < x:
                call("SetResult", index=int(call("PopIndex")), value=x)
                top = call("PeekIndex")
            call("PushIndex", index=i)
        return call("Done", answer=sum(json.loads(call("ShowResults"))))


_SIZES = {"easy": (3, 7), "medium": (9, 20), "hard": (22, 40)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    nums = [rng.randint(1, 60) for _ in range(rng.randint(low, high))]
    return "NextGreaterEnv@" + json.dumps({"nums": nums})
