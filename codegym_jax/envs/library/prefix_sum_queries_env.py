"""Answer many range-sum queries on a hidden array by building a stateful prefix-sum table."""

import json
import random

TASK_DESCRIPTION = """You get a list of integers and a list of queries [l, r]. For each query, add up the numbers from
position l to position r, both included (0-based). Report the sums in query order.

Example: nums [3, -1, 4, 1, 5], queries [[0, 2], [1, 4]] -> answer [6, 9]."""


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


class PrefixSumQueriesEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "GetQuery": {"q": "int"},
        "AddNumbers": {"a": "int", "b": "int"},
        "AppendPrefix": {"value": "int"},
        "GetPrefix": {"k": "int"},
        "SubtractNumbers": {"a": "int", "b": "int"},
        "Done": {"answer": "list[int]"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "GetQuery": 2,
            "AddNumbers": 3,
            "AppendPrefix": 4,
            "GetPrefix": 5,
            "SubtractNumbers": 6,
            "Done": 7,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "PrefixSumQueriesEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return PrefixSumQueriesEnv(env_str=env_str)

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
        self.queries = [[int(a), int(b)] for a, b in options.get("queries", [[0, 0]])]
        self.prefix = [0]
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        prefix = [0]
        for x in self.nums:
            prefix.append(prefix[-1] + x)
        return [prefix[r + 1] - prefix[l] for l, r in self.queries]

    def Observe(self):
        r"""
        Show how many numbers and how many queries there are (their contents stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length" and "queries".

        Example Output:
            "{\"length\": 5, \"queries\": 2}"
        """
        return json.dumps({"length": len(self.nums), "queries": len(self.queries)})

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

    def GetQuery(self, q):
        r"""
        Read one query.

        Args:
            q (int): Query number, 0-based.

        Returns:
            str: The query as a JSON list [l, r].

        Example Output:
            "[1, 4]"
        """
        if not 0 <= q < len(self.queries):
            raise ValueError(f"query {q} is outside 0..{len(self.queries) - 1}")
        return json.dumps(self.queries[q])

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

    def SubtractNumbers(self, a, b):
        r"""
        Subtract one integer from another.

        Args:
            a (int): Minuend.
            b (int): Subtrahend.

        Returns:
            str: a - b.

        Example Output:
            "9"
        """
        return str(a - b)

    def AppendPrefix(self, value):
        r"""
        Append a value to the prefix table, which starts as [0].

        Args:
            value (int): Value to append.

        Returns:
            str: The new table length.

        Example Output:
            "3"
        """
        self.prefix.append(value)
        return str(len(self.prefix))

    def GetPrefix(self, k):
        r"""
        Read entry k of the prefix table.

        Args:
            k (int): Table position, 0-based.

        Returns:
            str: The stored value.

        Example Output:
            "6"
        """
        if not 0 <= k < len(self.prefix):
            raise ValueError(f"prefix entry {k} is outside 0..{len(self.prefix) - 1}")
        return str(self.prefix[k])

    def Done(self, answer):
        r"""
        Submit the query sums in order.

        Args:
            answer (list[int]): The query sums in order.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: [6, 9], Reference answer: [6, 9], Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        info = json.loads(call("Observe"))
        running = 0
        for i in range(info["length"]):
            running = int(call("AddNumbers", a=running, b=int(call("GetElement", index=i))))
            call("AppendPrefix", value=running)
        sums = []
        for q in range(info["queries"]):
            l, r = json.loads(call("GetQuery", q=q))
            high = int(call("GetPrefix", k=r + 1))
            low = int(call("GetPrefix", k=l))
            sums.append(int(call("SubtractNumbers", a=high, b=low)))
        return call("Done", answer=sums)


_SIZES = {"easy": ((3, 8), (1, 3)), "medium": ((10, 25), (4, 10)), "hard": ((40, 70), (8, 12))}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    (low, high), (qlow, qhigh) = _SIZES[difficulty]
    n = rng.randint(low, high)
    nums = [rng.randint(-50, 50) for _ in range(n)]
    queries = []
    for _ in range(rng.randint(qlow, qhigh)):
        l = rng.randrange(n)
        queries.append([l, rng.randint(l, n - 1)])
    return "PrefixSumQueriesEnv@" + json.dumps({"nums": nums, "queries": queries})
