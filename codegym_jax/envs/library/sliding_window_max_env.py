"""Maximum of every window of width k, using a stateful monotonic deque of positions."""

import json
import random

TASK_DESCRIPTION = """A window of width k slides over a list of integers from left to right, one position at a time.
Take the largest number inside the window at each of its positions and report the sum of these
maxima.

Example: nums [1, 3, -1, -3, 5, 3, 6, 7], k = 3 -> maxima [3, 3, 5, 5, 6, 7] -> answer 29."""


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


class SlidingWindowMaxEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "PushBack": {"index": "int"},
        "PopBack": {},
        "PopFront": {},
        "DequeEnds": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "PushBack": 2,
            "PopBack": 3,
            "PopFront": 4,
            "DequeEnds": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "SlidingWindowMaxEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return SlidingWindowMaxEnv(env_str=env_str)

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
        self.k = int(options.get("k", 1))
        self.deque = []
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        return sum(max(self.nums[i:i + self.k]) for i in range(len(self.nums) - self.k + 1))

    def Observe(self):
        r"""
        Show the list length and the window width k (the numbers stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length" and "k".

        Example Output:
            "{\"length\": 8, \"k\": 3}"
        """
        return json.dumps({"length": len(self.nums), "k": self.k})

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

    def PushBack(self, index):
        r"""
        Append a position at the back of the deque.

        Args:
            index (int): Position, 0-based.

        Returns:
            str: The deque, front to back, as a JSON list.

        Example Output:
            "[1, 2]"
        """
        if not 0 <= index < len(self.nums):
            raise ValueError(f"index {index} is outside 0..{len(self.nums) - 1}")
        self.deque.append(index)
        return json.dumps(self.deque)

    def PopBack(self):
        r"""
        Remove the position at the back of the deque.

        Args:
            None

        Returns:
            str: The removed position.

        Example Output:
            "2"
        """
        if not self.deque:
            raise ValueError("the deque is empty")
        return str(self.deque.pop())

    def PopFront(self):
        r"""
        Remove the position at the front of the deque.

        Args:
            None

        Returns:
            str: The removed position.

        Example Output:
            "0"
        """
        if not self.deque:
            raise ValueError("the deque is empty")
        return str(self.deque.pop(0))

    def DequeEnds(self):
        r"""
        Show the front and back positions of the deque.

        Args:
            None

        Returns:
            str: JSON with "front" and "back" (null when empty).

        Example Output:
            "{\"front\": 1, \"back\": 2}"
        """
        return json.dumps({"front": self.deque[0] if self.deque else None, "back": self.deque[-1] if self.deque else None})

    def Done(self, answer):
        r"""
        Submit the sum of the window maxima.

        Args:
            answer (int): The sum of the window maxima.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 29, Reference answer: 29, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        info = json.loads(call("Observe"))
        n, k = info["length"], info["k"]
        values, maxima = [], []
        for i in range(n):
            x = int(call("GetElement", index=i))
            values.append(x)
            ends = json.loads(call("DequeEnds"))
            while ends["back"] is not None and values[ends["back"]] <= x:
                call("PopBack")
                ends = json.loads(call("DequeEnds"))
            if ends["front"] is not None and ends["front"] <= i - k:
                call("PopFront")
            front = json.loads(call("PushBack", index=i))[0]
            if i >= k - 1:
                maxima.append(values[front])
        return call("Done", answer=sum(maxima))


_SIZES = {"easy": (3, 6), "medium": (8, 18), "hard": (20, 40)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    n = rng.randint(low, high)
    nums = [rng.randint(-20, 40) for _ in range(n)]
    return "SlidingWindowMaxEnv@" + json.dumps({"nums": nums, "k": rng.randint(2, max(2, min(n, 6)))})
