"""Length of the longest strictly increasing subsequence, with a stateful table of smallest tails."""

import json
import random

TASK_DESCRIPTION = """Given a list of integers, pick some of them (keeping their order, not necessarily adjacent) so that
each picked number is strictly larger than the one before. Report the largest possible number of picks.

Example: [10, 9, 2, 5, 3, 7, 101, 18] -> for instance 2, 3, 7, 18 -> answer 4."""


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


class LongestIncreasingSubsequenceEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetElement": {"index": "int"},
        "FirstTailAtLeast": {"value": "int"},
        "SetTail": {"position": "int", "value": "int"},
        "TailsLength": {},
        "ShowTails": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetElement": 1,
            "FirstTailAtLeast": 2,
            "SetTail": 3,
            "TailsLength": 4,
            "ShowTails": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "LongestIncreasingSubsequenceEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return LongestIncreasingSubsequenceEnv(env_str=env_str)

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
        self.nums = [int(x) for x in options.get("nums", [1])]
        self.tails = []
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        best = [1] * len(self.nums)
        for i in range(len(self.nums)):
            for j in range(i):
                if self.nums[j] < self.nums[i]:
                    best[i] = max(best[i], best[j] + 1)
        return max(best) if best else 0

    def Observe(self):
        r"""
        Show how many numbers the list holds (the values stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 8}"
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

    def FirstTailAtLeast(self, value):
        r"""
        Find the first position of the tails table (kept in increasing order) whose entry is >= value.

        Args:
            value (int): The value to place.

        Returns:
            str: That position, or the table length if every entry is smaller.

        Example Output:
            "2"
        """
        low, high = 0, len(self.tails)
        while low < high:
            mid = (low + high) // 2
            if self.tails[mid] < value:
                low = mid + 1
            else:
                high = mid
        return str(low)

    def SetTail(self, position, value):
        r"""
        Write a value into the tails table, overwriting an entry or appending right after the last one.

        Args:
            position (int): Table position (0 to the current length).
            value (int): The value to write.

        Returns:
            str: The tails table as a JSON list.

        Example Output:
            "[2, 3, 7]"
        """
        if not 0 <= position <= len(self.tails):
            raise ValueError(f"position {position} is outside 0..{len(self.tails)}")
        if position == len(self.tails):
            self.tails.append(value)
        else:
            self.tails[position] = value
        return json.dumps(self.tails)

    def TailsLength(self):
        r"""
        Show how many entries the tails table holds.

        Args:
            None

        Returns:
            str: The length.

        Example Output:
            "4"
        """
        return str(len(self.tails))

    def ShowTails(self):
        r"""
        Show the tails table.

        Args:
            None

        Returns:
            str: The table as a JSON list.

        Example Output:
            "[2, 3, 7, 18]"
        """
        return json.dumps(self.tails)

    def Done(self, answer):
        r"""
        Submit the length of the longest increasing subsequence.

        Args:
            answer (int): The length of the longest increasing subsequence.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 4, Reference answer: 4, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["length"]
        for i in range(n):
            x = int(call("GetElement", index=i))
            call("SetTail", position=int(call("FirstTailAtLeast", value=x)), value=x)
        return call("Done", answer=int(call("TailsLength")))


_SIZES = {"easy": (3, 12), "medium": (14, 38), "hard": (36, 80)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    nums = [rng.randint(0, 99) for _ in range(rng.randint(low, high))]
    return "LongestIncreasingSubsequenceEnv@" + json.dumps({"nums": nums})
