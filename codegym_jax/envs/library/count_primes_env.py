"""Count the primes below n with a stateful sieve."""

import json
import math
import random

TASK_DESCRIPTION = """Given an integer n, count the prime numbers strictly smaller than n (a prime is an integer
greater than 1 whose only divisors are 1 and itself). Report the count.

Example: n = 20 -> primes 2, 3, 5, 7, 11, 13, 17, 19 -> answer 8."""


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


class CountPrimesEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "NextUncrossed": {"after": "int"},
        "CrossOutMultiples": {"p": "int"},
        "IsCrossed": {"x": "int"},
        "CountUncrossed": {"low": "int", "high": "int"},
        "IntegerSqrt": {"x": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "NextUncrossed": 1,
            "CrossOutMultiples": 2,
            "IsCrossed": 3,
            "CountUncrossed": 4,
            "IntegerSqrt": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "CountPrimesEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return CountPrimesEnv(env_str=env_str)

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
        self.n = int(options.get("n", 2))
        self.crossed = bytearray(max(self.n, 2))
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        if self.n < 3:
            return 0
        composite = bytearray(self.n)
        count = 0
        for x in range(2, self.n):
            if not composite[x]:
                count += 1
                composite[x * x::x] = b"\x01" * len(range(x * x, self.n, x))
        return count

    def _check_number(self, x):
        if not 2 <= x < self.n:
            raise ValueError(f"{x} is not on the board 2..{self.n - 1}")

    def Observe(self):
        r"""
        Show n.

        Args:
            None

        Returns:
            str: JSON with "n".

        Example Output:
            "{\"n\": 20}"
        """
        return json.dumps({"n": self.n})

    def NextUncrossed(self, after):
        r"""
        Find the smallest board number greater than a given value that is not crossed out.

        Args:
            after (int): The search starts just above this value.

        Returns:
            str: The number found, or -1 if there is none.

        Example Output:
            "5"
        """
        for x in range(max(after + 1, 2), self.n):
            if not self.crossed[x]:
                return str(x)
        return "-1"

    def CrossOutMultiples(self, p):
        r"""
        Cross out p*p, p*p + p, p*p + 2p, ... below n.

        Args:
            p (int): A board number (>= 2).

        Returns:
            str: How many numbers were newly crossed out.

        Example Output:
            "4"
        """
        self._check_number(p)
        newly = 0
        for x in range(p * p, self.n, p):
            if not self.crossed[x]:
                self.crossed[x] = 1
                newly += 1
        return str(newly)

    def IsCrossed(self, x):
        r"""
        Tell whether a board number is crossed out.

        Args:
            x (int): A board number.

        Returns:
            str: "true" or "false".

        Example Output:
            "false"
        """
        self._check_number(x)
        return json.dumps(bool(self.crossed[x]))

    def CountUncrossed(self, low, high):
        r"""
        Count the board numbers in [low, high) that are not crossed out.

        Args:
            low (int): Start of the range (inclusive).
            high (int): End of the range (exclusive).

        Returns:
            str: The count.

        Example Output:
            "8"
        """
        low, high = max(low, 2), min(high, self.n)
        return str(sum(1 for x in range(low, high) if not self.crossed[x]))

    def IntegerSqrt(self, x):
        r"""
        The largest integer whose square does not exceed x.

        Args:
            x (int): A non-negative integer.

        Returns:
            str: floor(sqrt(x)).

        Example Output:
            "4"
        """
        if x < 0:
            raise ValueError(f"x must be >= 0, got {x}")
        return str(math.isqrt(x))

    def Done(self, answer):
        r"""
        Submit the number of primes below n.

        Args:
            answer (int): The prime count.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 8, Reference answer: 8, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["n"]
        p = int(call("NextUncrossed", after=1))
        while p != -1 and p * p < n:
            call("CrossOutMultiples", p=p)
            p = int(call("NextUncrossed", after=p))
        return call("Done", answer=int(call("CountUncrossed", low=2, high=n)))


_ROOTS = {"easy": (12, 55), "medium": (75, 280), "hard": (330, 620)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _ROOTS[difficulty]
    root = rng.randint(low, high)
    return "CountPrimesEnv@" + json.dumps({"n": root * root + rng.randint(0, 2 * root)})
