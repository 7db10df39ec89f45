"""Fewest coins that add up to an amount, filling a stateful table of best counts per amount."""

import json
import random

TASK_DESCRIPTION = """You have unlimited coins of each given value. Report the smallest number of coins whose values add up
exactly to the given amount, or -1 if the amount cannot be made.

Example: coins [1, 2, 5], amount 11 -> 5 + 5 + 1 -> answer 3."""


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


class CoinChangeEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetCoins": {},
        "CandidateCounts": {"amount": "int"},
        "MinOfList": {"values": "list[int]"},
        "WriteTable": {"index": "int", "value": "int"},
        "ReadTable": {"index": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetCoins": 1,
            "CandidateCounts": 2,
            "MinOfList": 3,
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
        prefix = "CoinChangeEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return CoinChangeEnv(env_str=env_str)

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
        self.coins = [int(c) for c in options.get("coins", [1])]
        self.amount = int(options.get("amount", 0))
        self.table = [None] * (self.amount + 1)
        self.table[0] = 0
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        best = [0] + [-1] * self.amount
        for a in range(1, self.amount + 1):
            options = [best[a - c] + 1 for c in self.coins if c <= a and best[a - c] >= 0]
            best[a] = min(options) if options else -1
        return best[self.amount]

    def Observe(self):
        r"""
        Show the target amount and how many coin values there are.

        Args:
            None

        Returns:
            str: JSON with "amount" and "coin_kinds".

        Example Output:
            "{\"amount\": 11, \"coin_kinds\": 3}"
        """
        return json.dumps({"amount": self.amount, "coin_kinds": len(self.coins)})

    def GetCoins(self):
        r"""
        Show the coin values.

        Args:
            None

        Returns:
            str: The coin values as a JSON list.

        Example Output:
            "[1, 2, 5]"
        """
        return json.dumps(self.coins)

    def CandidateCounts(self, amount):
        r"""
        For each coin that fits, look up the stored best count of (amount - coin) and add one; entries that are unset or -1 are skipped.

        Args:
            amount (int): The amount being worked on.

        Returns:
            str: The candidate counts as a JSON list (possibly empty).

        Example Output:
            "[3, 4, 3]"
        """
        if not 1 <= amount <= self.amount:
            raise ValueError(f"amount {amount} is outside 1..{self.amount}")
        out = []
        for c in self.coins:
            if c <= amount and self.table[amount - c] is not None and self.table[amount - c] >= 0:
                out.append(self.table[amount - c] + 1)
        return json.dumps(out)

    def MinOfList(self, values):
        r"""
        The smallest value of a list.

        Args:
            values (list[int]): The values.

        Returns:
            str: The minimum, or "-1" for an empty list.

        Example Output:
            "3"
        """
        return str(min(values)) if values else "-1"

    def WriteTable(self, index, value):
        r"""
        Store a value in the best-count (entry a is the fewest coins for amount a, -1 if impossible) table at a position.

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
        Read a stored value of the best-count (entry a is the fewest coins for amount a, -1 if impossible) table.

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
        Submit the fewest coins (-1 if impossible).

        Args:
            answer (int): The fewest coins (-1 if impossible).

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 3, Reference answer: 3, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        amount = json.loads(call("Observe"))["amount"]
        call("GetCoins")
        for a in range(1, amount + 1):
            candidates = json.loads(call("CandidateCounts", amount=a))
            best = min(candidates) if candidates else -1
            call("WriteTable", index=a, value=best)
        return call("Done", answer=int(call("ReadTable", index=amount)))


_SIZES = {"easy": (5, 18), "medium": (20, 55), "hard": (55, 120)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    coins = sorted(rng.sample(range(2, 13), rng.randint(2, 4)))
    if rng.random() < 0.5:
        coins = [1] + coins
    return "CoinChangeEnv@" + json.dumps({"coins": coins, "amount": rng.randint(low, high)})
