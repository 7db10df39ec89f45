"""Best total from a row of houses when no two neighbours may both be picked, with a DP table."""

import json
import random

TASK_DESCRIPTION = """A street has a row of houses, each holding some amount of money. You may take the money of any set
of houses as long as no two of them stand next to each other. Report the largest total you can take.

Example: [2, 7, 9, 3, 1] -> take houses 0, 2 and 4 -> answer 12."""


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


class HouseRobberEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "AddNumbers": {"a": "int", "b": "int"},
        "MaxOfTwo": {"a": "int", "b": "int"},
        "WriteTable": {"index": "int", "value": "int"},
        "ReadTable": {"index": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "AddNumbers": 2,
            "MaxOfTwo": 3,
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
        prefix = "HouseRobberEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return HouseRobberEnv(env_str=env_str)

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
        self.table = [None] * len(self.nums)
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        take, skip = 0, 0
        for x in self.nums:
            take, skip = skip + x, max(take, skip)
        return max(take, skip)

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

    def MaxOfTwo(self, a, b):
        r"""
        The larger of two integers.

        Args:
            a (int): First integer.
            b (int): Second integer.

        Returns:
            str: max(a, b).

        Example Output:
            "12"
        """
        return str(max(a, b))

    def WriteTable(self, index, value):
        r"""
        Store a value in the best-total table at a position.

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
        Read a stored value of the best-total table.

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
        Submit the largest total.

        Args:
            answer (int): The largest total.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 12, Reference answer: 12, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["length"]
        prev2, prev1 = 0, 0
        for i in range(n):
            x = int(call("GetElement", index=i))
            with_house = int(call("AddNumbers", a=prev2, b=x))
            best = int(call("MaxOfTwo", a=prev1, b=with_house))
            call("WriteTable", index=i, value=best)
            prev2, prev1 = prev1, best
        return call("Done", answer=int(call("ReadTable", index=n - 1)))


_SIZES = {"easy": (3, 8), "medium": (10, 28), "hard": (26, 60)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    nums = [rng.randint(0, 50) for _ in range(rng.randint(low, high))]
    return "HouseRobberEnv@" + json.dumps({"nums": nums})
