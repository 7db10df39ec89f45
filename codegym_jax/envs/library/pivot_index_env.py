"""Find the leftmost index where the sums on both sides are equal, with a running-sum cursor."""

import json
import random

TASK_DESCRIPTION = """Given a list of integers, find the leftmost position whose left side (all numbers before it) adds
up to the same total as its right side (all numbers after it). Empty sides count as 0. Report the
position (0-based), or -1 if no position qualifies.

Example: [1, 7, 3, 6, 5, 6] -> left 1+7+3 = 11, right 5+6 = 11 -> answer 3."""


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


class PivotIndexEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "TotalSum": {},
        "AdvanceCursor": {},
        "CursorState": {},
        "RightSum": {"total": "int", "left": "int", "value": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "TotalSum": 2,
            "AdvanceCursor": 3,
            "CursorState": 4,
            "RightSum": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "PivotIndexEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return PivotIndexEnv(env_str=env_str)

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
        self.nums = [int(x) for x in options.get("nums", [0])]
        self.cursor = 0
        self.left = 0
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        total = sum(self.nums)
        left = 0
        for i, x in enumerate(self.nums):
            if left == total - left - x:
                return i
            left += x
        return -1

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

    def TotalSum(self):
        r"""
        Add up the whole list.

        Args:
            None

        Returns:
            str: The sum of all numbers.

        Example Output:
            "28"
        """
        return str(sum(self.nums))

    def CursorState(self):
        r"""
        Show the cursor: its position, the number under it and the sum of everything to its left.

        Args:
            None

        Returns:
            str: JSON with "position", "value" (null past the end) and "left_sum".

        Example Output:
            "{\"position\": 2, \"value\": 3, \"left_sum\": 8}"
        """
        value = self.nums[self.cursor] if self.cursor < len(self.nums) else None
        return json.dumps({"position": self.cursor, "value": value, "left_sum": self.left})

    def AdvanceCursor(self):
        r"""
        Move the cursor one position right, adding the number it leaves to the left sum.

        Args:
            None

        Returns:
            str: JSON with the new "position", "value" (null past the end) and "left_sum".

        Example Output:
            "{\"position\": 3, \"value\": 6, \"left_sum\": 11}"
        """
        if self.cursor >= len(self.nums):
            raise ValueError("the cursor is already past the end of the list")
        self.left += self.nums[self.cursor]
        self.cursor += 1
        return self.CursorState()

    def RightSum(self, total, left, value):
        r"""
        Sum of the numbers right of a position, from the total, the left sum and the number at the position.

        Args:
            total (int): Sum of the whole list.
            left (int): Sum left of the position.
            value (int): Number at the position.

        Returns:
            str: total - left - value.

        Example Output:
            "11"
        """
        return str(total - left - value)

    def Done(self, answer):
        r"""
        Submit the leftmost balanced position.

        Args:
            answer (int): The 0-based position, or -1 if there is none.

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
        total = int(call("TotalSum"))
        state = json.loads(call("CursorState"))
        answer = -1
        for i in range(n):
            right = int(call("RightSum", total=total, left=state["left_sum"], value=state["value"]))
            if right == state["left_sum"]:
                answer = i
                break
            state = json.loads(call("AdvanceCursor"))
        return call("Done", answer=answer)


_SIZES = {"easy": (9, 18), "medium": (25, 55), "hard": (60, 120)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    n = rng.randint(low, high)
    nums = [rng.randint(-9, 9) for _ in range(n)]
    if rng.random() < 0.7:
        # Plant a balanced position somewhere in the second half, so scans are long.
        pivot = rng.randint(n // 2, n - 1)
        gap = sum(nums[:pivot]) - sum(nums[pivot + 1:])
        if pivot + 1 < n:
            nums[n - 1] += gap
        else:
            nums[0] -= gap
    return "PivotIndexEnv@" + json.dumps({"nums": nums})
