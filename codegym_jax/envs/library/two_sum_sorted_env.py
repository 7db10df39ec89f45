"""Find the pair adding to a target in a sorted array with two stateful pointers."""

import json
import random

TASK_DESCRIPTION = """A list of integers is sorted in non-decreasing order, and exactly one pair of different positions
holds numbers adding up to a given target. Report that pair of positions (0-based) as [i, j]
with i < j.

Example: nums [1, 3, 4, 6, 9], target 13 -> answer [2, 4]."""


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


class TwoSumSortedEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "PointerValues": {},
        "MoveLeft": {},
        "MoveRight": {},
        "AddNumbers": {"a": "int", "b": "int"},
        "CompareToTarget": {"value": "int"},
        "Done": {"answer": "list[int]"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "PointerValues": 1,
            "MoveLeft": 2,
            "MoveRight": 3,
            "AddNumbers": 4,
            "CompareToTarget": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "TwoSumSortedEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return TwoSumSortedEnv(env_str=env_str)

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
        self.nums = [int(x) for x in options.get("nums", [0, 0])]
        self.target = int(options.get("target", 0))
        self.left = 0
        self.right = len(self.nums) - 1
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        i, j = 0, len(self.nums) - 1
        while i < j:
            s = self.nums[i] + self.nums[j]
            if s == self.target:
                return [i, j]
            if s < self.target:
                i += 1
            else:
                j -= 1
        return [-1, -1]

    def Observe(self):
        r"""
        Show the list length and the target (the numbers stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length" and "target".

        Example Output:
            "{\"length\": 5, \"target\": 10}"
        """
        return json.dumps({"length": len(self.nums), "target": self.target})

    def PointerValues(self):
        r"""
        Show both pointers (the left one starts at 0, the right one at the last position) and the numbers under them.

        Args:
            None

        Returns:
            str: JSON with "left", "right", "left_value", "right_value".

        Example Output:
            "{\"left\": 0, \"right\": 4, \"left_value\": 1, \"right_value\": 9}"
        """
        return json.dumps({"left": self.left, "right": self.right, "left_value": self.nums[self.left], "right_value": self.nums[self.right]})

    def MoveLeft(self):
        r"""
        Move the left pointer one position to the right.

        Args:
            None

        Returns:
            str: JSON with both pointers and their numbers.

        Example Output:
            "{\"left\": 1, \"right\": 4, \"left_value\": 3, \"right_value\": 9}"
        """
        if self.left + 1 >= self.right:
            raise ValueError("the pointers would meet")
        self.left += 1
        return self.PointerValues()

    def MoveRight(self):
        r"""
        Move the right pointer one position to the left.

        Args:
            None

        Returns:
            str: JSON with both pointers and their numbers.

        Example Output:
            "{\"left\": 0, \"right\": 3, \"left_value\": 1, \"right_value\": 6}"
        """
        if self.right - 1 <= self.left:
            raise ValueError("the pointers would meet")
        self.right -= 1
        return self.PointerValues()

    def AddNumbers(self, a, b):
        r"""
        Add two integers.

        Args:
            a (int): First addend.
            b (int): Second addend.

        Returns:
            str: a + b.

        Example Output:
            "9"
        """
        return str(a + b)

    def CompareToTarget(self, value):
        r"""
        Compare a value with the target.

        Args:
            value (int): The value to compare.

        Returns:
            str: "less", "equal" or "greater".

        Example Output:
            "less"
        """
        return "less" if value < self.target else "equal" if value == self.target else "greater"

    def Done(self, answer):
        r"""
        Submit the pair of positions [i, j].

        Args:
            answer (list[int]): The pair of positions [i, j].

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: [0, 4], Reference answer: [0, 4], Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        json.loads(call("Observe"))
        state = json.loads(call("PointerValues"))
        while True:
            total = int(call("AddNumbers", a=state["left_value"], b=state["right_value"]))
            verdict = call("CompareToTarget", value=total)
            if verdict == "equal":
                return call("Done", answer=[state["left"], state["right"]])
            state = json.loads(call("MoveLeft" if verdict == "less" else "MoveRight"))


_SIZES = {"easy": (6, 14), "medium": (20, 45), "hard": (50, 90)}


def _pairs_adding_to(nums, target):
    """How many pairs of positions hold numbers adding up to target."""
    seen: dict[int, int] = {}
    count = 0
    for value in nums:
        count += seen.get(target - value, 0)
        seen[value] = seen.get(value, 0) + 1
    return count


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    n = rng.randint(low, high)
    # A value range growing with n*n keeps accidental second pairs rare, so few draws are rejected.
    bound = max(200, n * n)
    while True:
        nums = sorted(rng.sample(range(-bound, bound), n))
        i = rng.randrange(n // 4, n // 2)
        j = rng.randrange(n // 2, n - n // 4)
        target = nums[i] + nums[j]
        if _pairs_adding_to(nums, target) == 1:
            return "TwoSumSortedEnv@" + json.dumps({"nums": nums, "target": target})
