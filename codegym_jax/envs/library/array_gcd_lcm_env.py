"""Greatest common divisor and least common multiple of a hidden array."""

import json
import math
import random

TASK_DESCRIPTION = """A hidden array holds positive integers. Report its greatest common divisor (the
largest integer dividing every element) and its least common multiple (the smallest positive integer
every element divides) as a two-element list [gcd, lcm]. Only the array length is visible at first;
elements are read by index, and arithmetic helpers are available.

Example: [12, 18, 30] -> answer [6, 180]."""


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


class ArrayGcdLcmEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetNumber": {"index": "int"},
        "Gcd": {"a": "int", "b": "int"},
        "Multiply": {"a": "int", "b": "int"},
        "ExactDivide": {"a": "int", "b": "int"},
        "Remainder": {"a": "int", "b": "int"},
        "Done": {"answer": "list[int]"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetNumber": 1,
            "Gcd": 2,
            "Multiply": 3,
            "ExactDivide": 4,
            "Remainder": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "ArrayGcdLcmEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return ArrayGcdLcmEnv(env_str=env_str)

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
        self.numbers = [int(x) for x in options.get("numbers", [])]
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        gcd, lcm = 0, 1
        for x in self.numbers:
            gcd = math.gcd(gcd, x)
            lcm = lcm * x // math.gcd(lcm, x)
        return [gcd, lcm]

    def Observe(self):
        r"""
        Show the array length.

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 3}"
        """
        return json.dumps({"length": len(self.numbers)})

    def GetNumber(self, index):
        r"""
        Read the element at an index.

        Args:
            index (int): Position in the array, from 0.

        Returns:
            str: The element.

        Example Output:
            "18"
        """
        if not 0 <= index < len(self.numbers):
            raise ValueError(f"index {index} is outside 0..{len(self.numbers) - 1}")
        return str(self.numbers[index])

    def Gcd(self, a, b):
        r"""
        Greatest common divisor of two non-negative integers.

        Args:
            a (int): First integer (>= 0).
            b (int): Second integer (>= 0).

        Returns:
            str: gcd(a, b).

        Example Output:
            "6"
        """
        if a < 0 or b < 0:
            raise ValueError(f"arguments must be >= 0, got {a} and {b}")
        return str(math.gcd(a, b))

    def Multiply(self, a, b):
        r"""
        Product of two integers.

        Args:
            a (int): First factor.
            b (int): Second factor.

        Returns:
            str: a * b.

        Example Output:
            "216"
        """
        return str(a * b)

    def ExactDivide(self, a, b):
        r"""
        Divide a by b when b divides a exactly.

        Args:
            a (int): The dividend.
            b (int): The divisor (non-zero, must divide a).

        Returns:
            str: a / b as an integer.

        Example Output:
            "36"
        """
        if b == 0 or a % b:
            raise ValueError(f"{b} does not divide {a}")
        return str(a // b)

    def Remainder(self, a, b):
        r"""
        Remainder of dividing a by b.

        Args:
            a (int): The dividend.
            b (int): The divisor (non-zero).

        Returns:
            str: a mod b.

        Example Output:
            "6"
        """
        if b == 0:
            raise ValueError("division by zero")
        return str(a % b)

    def Done(self, answer):
        r"""
        Submit the gcd and the lcm.

        Args:
            answer (list[int]): [gcd, lcm] of the whole array.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: [6, 180], Reference answer: [6, 180], Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        length = json.loads(call("Observe"))["length"]
        gcd = lcm = int(call("GetNumber", index=0))
        for index in range(1, length):
            x = int(call("GetNumber", index=index))
            gcd = int(call("Gcd", a=gcd, b=x))
            common = int(call("Gcd", a=lcm, b=x))
            lcm = int(call("ExactDivide", a=int(call("Multiply", a=lcm, b=x)), b=common))
        return call("Done", answer=[gcd, lcm])


_SIZES = {"easy": (3, 7), "medium": (10, 22), "hard": (24, 48)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    base = rng.choice([1, 1, 2, 3, 4, 5, 6])
    numbers = [base * rng.randint(1, 16) for _ in range(rng.randint(low, high))]
    return "ArrayGcdLcmEnv@" + json.dumps({"numbers": numbers})
