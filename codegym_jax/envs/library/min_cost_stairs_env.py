"""Cheapest way to the top of a staircase taking one or two steps at a time, with a DP table."""

import json
import random

TASK_DESCRIPTION = """A staircase has steps numbered 0..n-1; stepping on step i costs cost[i]. You start on step 0 or
step 1, and from any step you may climb one or two steps. The top lies just past the last step.
Report the smallest total cost to reach the top.

Example: [10, 15, 20] -> start on step 1 and jump two to the top -> answer 15."""


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


class MinCostStairsEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "AddNumbers": {"a": "int", "b": "int"},
        "MinOfTwo": {"a": "int", "b": "int"},
        "WriteTable": {"index": "int", "value": "int"},
        "ReadTable": {"index": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "AddNumbers": 2,
            "MinOfTwo": 3,
            "WriteTable": 4,
            "ReadTable": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "MinCostStairsEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return MinCostStairsEnv(env_str=env_str)

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
        self.nums = [int(x) for x in options.get("cost", [0, 0])]
        self.table = [None] * (len(self.nums) + 1)
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        a, b = 0, 0  # cheapest cost to stand on positions i-2 and i-1
        for i in range(2, len(self.nums) + 1):
            a, b = b, min(b + self.nums[i - 1], a + self.nums[i - 2])
        return b

    def Observe(self):
        r"""
        Show how many numbers the list holds (the values stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 3}"
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

    def MinOfTwo(self, a, b):
        r"""
        The smaller of two integers.

        Args:
            a (int): First integer.
            b (int): Second integer.

        Returns:
            str: min(a, b).

        Example Output:
            "3"
        """
        return str(min(a, b))

    def WriteTable(self, index, value):
        r"""
        Store a value in the cheapest-cost (position n is the top) table at a position.

        Args:
            index (int): Table position, 0-based.
            value (int): Value to store.

        Returns:
            str: Confirmation with the position and value.

        Example Output:
            "table[3] = 12"
        """
        if not 0 <= index < len(self.table):
            raise ValueError(f"index {index} is outside 0..{len(self.table) - 1}")
        self.table[index] = value
        return f"table[{index}] = {value}"

    def ReadTable(self, index):
        r"""
        Read a stored value of the cheapest-cost (position n is the top) table.

        Args:
            index (int): Table position, 0-based.

        Returns:
            str: The stored value, or "unset".

        Example Output:
            "12"
        """
        if not 0 <= index < len(self.table):
            raise ValueError(f"index {index} is outside 0..{len(self.table) - 1}")
        return "unset" if self.table[index] is None else str(self.table[index])

    def Done(self, answer):
        r"""
        Submit the smallest total cost.

        Args:
            answer (int): The smallest total cost.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 15, Reference answer: 15, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["length"]
        call("WriteTable", index=0, value=0)
        call("WriteTable", index=1, value=0)
        prev2, prev1 = 0, 0
        cost_prev2 = int(call("GetElement", index=0))
        for i in range(2, n + 1):
            cost_prev1 = int(call("GetElement", index=i - 1))
            a = int(call("AddNumbers", a=prev1, b=cost_prev1))
            b = int(call("AddNumbers", a=prev2, b=cost_prev2))
            best = int(call("MinOfTwo", a=a, b=b))
            call("WriteTable", index=i, value=best)
            prev2, prev1, cost_prev2 = prev1, best, cost_prev1
        return call("Done", answer=int(call("ReadTable", index=n)))


_SIZES = {"easy": (3, 7), "medium": (8, 22), "hard": (22, 48)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    cost = [rng.randint(0, 99) for _ in range(rng.randint(low, high))]
    return "MinCostStairsEnv@" + json.dumps({"cost": cost})
