"""k-th smallest element of a hidden array, found with swap and partition tools."""

import json
import random

TASK_DESCRIPTION = """A hidden array of distinct integers can only be read one position at a time. You
know its length and a number k. Report the k-th smallest value of the array (k = 1 is the minimum).

Example: array [7, 2, 9, 4, 5], k = 2 -> answer 4."""


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


class KthSmallestEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetValue": {"index": "int"},
        "Swap": {"i": "int", "j": "int"},
        "Partition": {"low": "int", "high": "int"},
        "CountSmaller": {"value": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetValue": 1,
            "Swap": 2,
            "Partition": 3,
            "CountSmaller": 4,
            "Done": 5,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "KthSmallestEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return KthSmallestEnv(env_str=env_str)

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
        self.values = list(options.get("values", []))
        self.original = list(self.values)
        self.k = int(options.get("k", 1))
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        return sorted(self.original)[self.k - 1]

    def _check_index(self, index):
        if not 0 <= index < len(self.values):
            raise ValueError(f"index {index} is outside 0..{len(self.values) - 1}")

    def Observe(self):
        r"""
        Show the array length and k.

        Args:
            None

        Returns:
            str: JSON with "length" and "k".

        Example Output:
            "{\"length\": 5, \"k\": 2}"
        """
        return json.dumps({"length": len(self.values), "k": self.k})

    def GetValue(self, index):
        r"""
        Read the value currently stored at a position.

        Args:
            index (int): Position in the array, from 0.

        Returns:
            str: The value.

        Example Output:
            "9"
        """
        self._check_index(index)
        return str(self.values[index])

    def Swap(self, i, j):
        r"""
        Exchange the values at two positions.

        Args:
            i (int): First position.
            j (int): Second position.

        Returns:
            str: JSON [value now at i, value now at j].

        Example Output:
            "[5, 7]"
        """
        self._check_index(i)
        self._check_index(j)
        self.values[i], self.values[j] = self.values[j], self.values[i]
        return json.dumps([self.values[i], self.values[j]])

    def Partition(self, low, high):
        r"""
        Rearrange positions low..high (inclusive) around the value at position high: smaller values
        end up before it and larger values after it.

        Args:
            low (int): First position of the range.
            high (int): Last position of the range (its value is the pivot).

        Returns:
            str: The final position of the pivot value.

        Example Output:
            "1"
        """
        self._check_index(low)
        self._check_index(high)
        if low > high:
            raise ValueError(f"low ({low}) must not exceed high ({high})")
        pivot = self.values[high]
        store = low
        for index in range(low, high):
            if self.values[index] < pivot:
                self.values[index], self.values[store] = self.values[store], self.values[index]
                store += 1
        self.values[store], self.values[high] = self.values[high], self.values[store]
        return str(store)

    def CountSmaller(self, value):
        r"""
        Count the array values strictly smaller than a given number.

        Args:
            value (int): The number to compare with.

        Returns:
            str: How many array values are smaller.

        Example Output:
            "1"
        """
        return str(sum(1 for v in self.values if v < value))

    def Done(self, answer):
        r"""
        Submit the k-th smallest value.

        Args:
            answer (int): The k-th smallest value of the array.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 4, Reference answer: 4, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        info = json.loads(call("Observe"))
        target = info["k"] - 1
        low, high = 0, info["length"] - 1
        while low < high:
            middle = (low + high) // 2
            samples = sorted((int(call("GetValue", index=i)), i) for i in {low, middle, high})
            median_index = samples[len(samples) // 2][1]
            if median_index != high:
                call("Swap", i=median_index, j=high)
            position = int(call("Partition", low=low, high=high))
            if position == target:
                low = high = position
            elif position < target:
                low = position + 1
            else:
                high = position - 1
        return call("Done", answer=int(call("GetValue", index=target)))


_SIZES = {"easy": (12, 30), "medium": (80, 250), "hard": (500, 1200)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    length = rng.randint(low, high)
    values = rng.sample(range(-5 * length, 5 * length), length)
    return "KthSmallestEnv@" + json.dumps({"values": values, "k": rng.randint(1, length)})
