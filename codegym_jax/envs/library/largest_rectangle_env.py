"""Largest rectangle under a histogram, using a stateful monotonic stack of bar positions."""

import json
import random

TASK_DESCRIPTION = """A histogram has bars of width 1 with the given heights, standing side by side. Find the largest
area of an axis-aligned rectangle that fits entirely inside the bars and report it.

Example: [2, 1, 5, 6, 2, 3] -> the bars of height 5 and 6 give 5 * 2 -> answer 10."""


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


class LargestRectangleEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "PushIndex": {"index": "int"},
        "PopIndex": {},
        "PeekIndex": {},
        "RectangleArea": {"height": "int", "left": "int", "right": "int"},
        "RecordCandidate": {"value": "int"},
        "BestRecorded": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "PushIndex": 2,
            "PopIndex": 3,
            "PeekIndex": 4,
            "RectangleArea": 5,
            "RecordCandidate": 6,
            "BestRecorded": 7,
            "Done": 8,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "LargestRectangleEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return LargestRectangleEnv(env_str=env_str)

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
        self.nums = [int(x) for x in options.get("heights", [1])]
        self.stack = []
        self.best = None
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        best = 0
        for i in range(len(self.nums)):
            low = self.nums[i]
            for j in range(i, len(self.nums)):
                low = min(low, self.nums[j])
                best = max(best, low * (j - i + 1))
        return best

    def Observe(self):
        r"""
        Show how many numbers the list holds (the values stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 6}"
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
        Push a bar position on top of the stack.

        Args:
            index (int): Bar position, 0-based.

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

    def RectangleArea(self, height, left, right):
        r"""
        Area of a rectangle of a given height spanning the bars strictly between two positions.

        Args:
            height (int): Rectangle height.
            left (int): Position just left of the span (-1 for the left edge).
            right (int): Position just right of the span (n for the right edge).

        Returns:
            str: height * (right - left - 1).

        Example Output:
            "10"
        """
        return str(height * max(0, right - left - 1))

    def RecordCandidate(self, value):
        r"""
        Offer a candidate area; the environment keeps the largest one offered so far.

        Args:
            value (int): A candidate area.

        Returns:
            str: The largest candidate recorded so far.

        Example Output:
            "10"
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
            "10"
        """
        return "none" if self.best is None else str(self.best)

    def Done(self, answer):
        r"""
        Submit the largest rectangle area.

        Args:
            answer (int): The largest rectangle area.

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
        heights = []
        for i in range(n + 1):
            h = int(call("GetElement", index=i)) if i < n else -1
            heights.append(h)
            top = call("PeekIndex")
            while top != "empty" and heights[int(top)] >= h:
                j = int(call("PopIndex"))
                below = call("PeekIndex")
                left = -1 if below == "empty" else int(below)
                call("RecordCandidate", value=int(call("RectangleArea", height=heights[j], left=left, right=i)))
                top = below
            if i < n:
                call("PushIndex", index=i)
        return call("Done", answer=int(call("BestRecorded")))


_SIZES = {"easy": (2, 4), "medium": (6, 14), "hard": (16, 30)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    heights = [rng.randint(1, 30) for _ in range(rng.randint(low, high))]
    return "LargestRectangleEnv@" + json.dumps({"heights": heights})
