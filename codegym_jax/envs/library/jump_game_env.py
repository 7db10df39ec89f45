"""Fewest jumps to reach the end of an array of jump lengths."""

import json
import random

TASK_DESCRIPTION = """You stand on the first position of a hidden array of positive integers; the value at
a position is the longest jump you may make from there (any shorter jump is allowed too). Report
the smallest number of jumps that reaches the last position. Only the array length is visible at
first; values are read by position, and the environment tracks your progress through the array.

Example: [2, 3, 1, 1, 4] -> jump 0 -> 1 -> 4 -> answer 2."""


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


class JumpGameEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetJump": {"index": "int"},
        "ExtendReach": {"index": "int"},
        "CommitJump": {},
        "ProgressState": {},
        "FarthestFrom": {"index": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetJump": 1,
            "ExtendReach": 2,
            "CommitJump": 3,
            "ProgressState": 4,
            "FarthestFrom": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "JumpGameEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return JumpGameEnv(env_str=env_str)

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
        self.jumps = [int(x) for x in options.get("jumps", [])]
        self.farthest = 0
        self.window_end = 0
        self.jump_count = 0
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        distance = [0] + [None] * (len(self.jumps) - 1)
        for index, length in enumerate(self.jumps):
            for target in range(index + 1, min(index + length, len(self.jumps) - 1) + 1):
                if distance[target] is None:
                    distance[target] = distance[index] + 1
        return distance[-1]

    def _check_index(self, index):
        if not 0 <= index < len(self.jumps):
            raise ValueError(f"index {index} is outside 0..{len(self.jumps) - 1}")

    def _state(self):
        return {"jumps": self.jump_count, "window_end": self.window_end, "farthest": self.farthest}

    def Observe(self):
        r"""
        Show the array length.

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 5}"
        """
        return json.dumps({"length": len(self.jumps)})

    def GetJump(self, index):
        r"""
        Read the longest jump allowed from a position.

        Args:
            index (int): Position, from 0.

        Returns:
            str: The value at that position.

        Example Output:
            "3"
        """
        self._check_index(index)
        return str(self.jumps[index])

    def ExtendReach(self, index):
        r"""
        Raise the farthest reachable position using the jump available at a position inside the
        current window (positions up to window_end).

        Args:
            index (int): A position not beyond window_end.

        Returns:
            str: JSON with "jumps", "window_end" and "farthest" afterwards.

        Example Output:
            "{\"jumps\": 0, \"window_end\": 0, \"farthest\": 2}"
        """
        self._check_index(index)
        if index > self.window_end:
            raise ValueError(f"position {index} lies beyond the current window end {self.window_end}")
        self.farthest = max(self.farthest, index + self.jumps[index])
        return json.dumps(self._state())

    def CommitJump(self):
        r"""
        Count one more jump and move the window end to the farthest reachable position.

        Args:
            None

        Returns:
            str: JSON with "jumps", "window_end" and "farthest" afterwards.

        Example Output:
            "{\"jumps\": 1, \"window_end\": 2, \"farthest\": 2}"
        """
        if self.farthest <= self.window_end:
            raise ValueError("the farthest reachable position is not beyond the window end")
        self.jump_count += 1
        self.window_end = self.farthest
        return json.dumps(self._state())

    def ProgressState(self):
        r"""
        Read the jump count, the window end and the farthest reachable position.

        Args:
            None

        Returns:
            str: JSON with "jumps", "window_end" and "farthest".

        Example Output:
            "{\"jumps\": 1, \"window_end\": 2, \"farthest\": 4}"
        """
        return json.dumps(self._state())

    def FarthestFrom(self, index):
        r"""
        The farthest position a single jump from a position can reach (capped at the last position).

        Args:
            index (int): Position, from 0.

        Returns:
            str: min(index + value at index, last position).

        Example Output:
            "4"
        """
        self._check_index(index)
        return str(min(index + self.jumps[index], len(self.jumps) - 1))

    def Done(self, answer):
        r"""
        Submit the minimum number of jumps.

        Args:
            answer (int): The fewest jumps from the first to the last position.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 2, Reference answer: 2, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        length = json.loads(call("Observe"))["length"]
        state = json.loads(call("ProgressState"))
        for index in range(length - 1):
            if state["window_end"] >= length - 1:
                break
            state = json.loads(call("ExtendReach", index=index))
            if index == state["window_end"]:
                state = json.loads(call("CommitJump"))
        return call("Done", answer=state["jumps"])


_SIZES = {"easy": (8, 25), "medium": (30, 75), "hard": (80, 170)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    length = rng.randint(low, high)
    longest = rng.randint(2, 6)
    return "JumpGameEnv@" + json.dumps({"jumps": [rng.randint(1, longest) for _ in range(length)]})
