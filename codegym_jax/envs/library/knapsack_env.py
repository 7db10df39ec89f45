"""0/1 knapsack: best total value within a weight limit, updating a stateful best-value row item by item."""

import json
import random

TASK_DESCRIPTION = """You have a bag that holds at most a given total weight and a list of items, each with a weight and a
value; each item can be packed at most once. Report the largest total value that fits in the bag.

Example: capacity 5, items (weight, value) [(1, 6), (2, 10), (3, 12)] -> pack the last two -> answer 22."""


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


class KnapsackEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetItem": {"index": "int"},
        "ReadRow": {},
        "ShiftRow": {"row": "list[int]", "weight": "int", "value": "int"},
        "MergeRows": {"a": "list[int]", "b": "list[int]"},
        "StoreRow": {"row": "list[int]"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetItem": 1,
            "ReadRow": 2,
            "ShiftRow": 3,
            "MergeRows": 4,
            "StoreRow": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "KnapsackEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return KnapsackEnv(env_str=env_str)

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
        self.items = [[int(w), int(v)] for w, v in options.get("items", [[1, 1]])]
        self.capacity = int(options.get("capacity", 1))
        self.row = [0] * (self.capacity + 1)
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        best = [0] * (self.capacity + 1)
        for w, v in self.items:
            for c in range(self.capacity, w - 1, -1):
                best[c] = max(best[c], best[c - w] + v)
        return best[self.capacity]

    def Observe(self):
        r"""
        Show the bag capacity and the number of items.

        Args:
            None

        Returns:
            str: JSON with "capacity" and "items".

        Example Output:
            "{\"capacity\": 5, \"items\": 3}"
        """
        return json.dumps({"capacity": self.capacity, "items": len(self.items)})

    def GetItem(self, index):
        r"""
        Read one item.

        Args:
            index (int): Item number, 0-based.

        Returns:
            str: JSON with "weight" and "value".

        Example Output:
            "{\"weight\": 2, \"value\": 10}"
        """
        if not 0 <= index < len(self.items):
            raise ValueError(f"index {index} is outside 0..{len(self.items) - 1}")
        w, v = self.items[index]
        return json.dumps({"weight": w, "value": v})

    def ReadRow(self):
        r"""
        Show the stored row: entry c is the best value found so far within weight c (it starts all zero).

        Args:
            None

        Returns:
            str: The row as a JSON list of capacity + 1 numbers.

        Example Output:
            "[0, 6, 10, 16, 16, 16]"
        """
        return json.dumps(self.row)

    def ShiftRow(self, row, weight, value):
        r"""
        Row after packing one more item: entry c becomes row[c - weight] + value (or -1 if c < weight).

        Args:
            row (list[int]): A row of best values.
            weight (int): The item's weight.
            value (int): The item's value.

        Returns:
            str: The shifted row as a JSON list.

        Example Output:
            "[-1, -1, 10, 16, 20, 26]"
        """
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        return json.dumps([row[c - weight] + value if c >= weight else -1 for c in range(len(row))])

    def MergeRows(self, a, b):
        r"""
        Entry-by-entry maximum of two rows of the same length.

        Args:
            a (list[int]): First row.
            b (list[int]): Second row.

        Returns:
            str: The merged row as a JSON list.

        Example Output:
            "[0, 6, 10, 16, 20, 26]"
        """
        if len(a) != len(b):
            raise ValueError(f"rows differ in length: {len(a)} and {len(b)}")
        return json.dumps([max(x, y) for x, y in zip(a, b)])

    def StoreRow(self, row):
        r"""
        Replace the stored row.

        Args:
            row (list[int]): The new row, capacity + 1 numbers.

        Returns:
            str: The last entry of the stored row.

        Example Output:
            "26"
        """
        if len(row) != self.capacity + 1:
            raise ValueError(f"the row must have {self.capacity + 1} entries, got {len(row)}")
        self.row = list(row)
        return str(self.row[-1])

    def Done(self, answer):
        r"""
        Submit the largest total value.

        Args:
            answer (int): The largest total value.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 22, Reference answer: 22, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["items"]
        row = json.loads(call("ReadRow"))
        for i in range(n):
            item = json.loads(call("GetItem", index=i))
            shifted = json.loads(call("ShiftRow", row=row, weight=item["weight"], value=item["value"]))
            row = json.loads(call("MergeRows", a=row, b=shifted))
            call("StoreRow", row=row)
        row = json.loads(call("ReadRow"))
        return call("Done", answer=row[-1])


_SIZES = {"easy": (2, 9), "medium": (10, 28), "hard": (25, 60)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    n = rng.randint(low, high)
    items = [[rng.randint(1, 12), rng.randint(1, 40)] for _ in range(n)]
    capacity = rng.randint(5, max(6, min(40, sum(w for w, _ in items) // 2)))
    return "KnapsackEnv@" + json.dumps({"items": items, "capacity": capacity})
