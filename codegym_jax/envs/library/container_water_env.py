"""Two walls that hold the most water, found with two stateful pointers moving inward."""

import json
import random

TASK_DESCRIPTION = """Vertical walls stand at positions 0..n-1 with the given heights. Pick two walls; together with the
ground they hold water up to the lower wall's height, over the distance between them. Report the
largest amount of water any pair of walls can hold.

Example: [1, 8, 6, 2, 5, 4, 8, 3, 7] -> walls 1 and 8 hold min(8, 7) * 7 -> answer 49."""


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


class ContainerWaterEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "PointerValues": {},
        "MoveLeft": {},
        "MoveRight": {},
        "Area": {"left": "int", "right": "int", "left_height": "int", "right_height": "int"},
        "RecordCandidate": {"value": "int"},
        "BestRecorded": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "PointerValues": 1,
            "MoveLeft": 2,
            "MoveRight": 3,
            "Area": 4,
            "RecordCandidate": 5,
            "BestRecorded": 6,
            "Done": 7,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "ContainerWaterEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return ContainerWaterEnv(env_str=env_str)

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
        self.nums = [int(x) for x in options.get("heights", [1, 1])]
        self.left = 0
        self.right = len(self.nums) - 1
        self.best = None
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        i, j, best = 0, len(self.nums) - 1, 0
        while i < j:
            best = max(best, min(self.nums[i], self.nums[j]) * (j - i))
            if self.nums[i] < self.nums[j]:
                i += 1
            else:
                j -= 1
        return best

    def Observe(self):
        r"""
        Show how many numbers the list holds (the values stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 9}"
        """
        return json.dumps({"length": len(self.nums)})

    def PointerValues(self):
        r"""
        Show both pointers (the left one starts at 0, the right one at the last wall) and the wall heights under them.

        Args:
            None

        Returns:
            str: JSON with "left", "right", "left_height", "right_height".

        Example Output:
            "{\"left\": 0, \"right\": 8, \"left_height\": 1, \"right_height\": 7}"
        """
        return json.dumps({"left": self.left, "right": self.right, "left_height": self.nums[self.left], "right_height": self.nums[self.right]})

    def MoveLeft(self):
        r"""
        Move the left pointer one wall to the right.

        Args:
            None

        Returns:
            str: JSON with both pointers and their heights.

        Example Output:
            "{\"left\": 1, \"right\": 8, \"left_height\": 8, \"right_height\": 7}"
        """
        if self.left + 1 > self.right:
            raise ValueError("the pointers would cross")
        self.left += 1
        return self.PointerValues()

    def MoveRight(self):
        r"""
        Move the right pointer one wall to the left.

        Args:
            None

        Returns:
            str: JSON with both pointers and their heights.

        Example Output:
            "{\"left\": 1, \"right\": 7, \"left_height\": 8, \"right_height\": 3}"
        """
        if self.right - 1 < self.left:
            raise ValueError("the pointers would cross")
        self.right -= 1
        return self.PointerValues()

    def Area(self, left, right, left_height, right_height):
        r"""
        Water held between two walls.

        Args:
            left (int): Position of the left wall.
            right (int): Position of the right wall.
            left_height (int): Height of the left wall.
            right_height (int): Height of the right wall.

        Returns:
            str: min(left_height, right_height) * (right - left).

        Example Output:
            "49"
        """
        return str(min(left_height, right_height) * abs(right - left))

    def RecordCandidate(self, value):
        r"""
        Offer a candidate amount; the environment keeps the largest one offered so far.

        Args:
            value (int): A candidate amount.

        Returns:
            str: The largest candidate recorded so far.

        Example Output:
            "49"
        """
        self.best = value if self.best is None else max(self.best, value)
        return str(self.best)

    def BestRecorded(self):
        r"""
        Show the largest candidate recorded so far.

        Args:
            None

        Returns:
            str: The value, or "none" if nothing was recorded.

        Example Output:
            "49"
        """
        return "none" if self.best is None else str(self.best)

    def Done(self, answer):
        r"""
        Submit the largest amount of water.

        Args:
            answer (int): The largest amount of water.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 49, Reference answer: 49, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        json.loads(call("Observe"))
        s = json.loads(call("PointerValues"))
        while s["left"] < s["right"]:
            area = int(call("Area", left=s["left"], right=s["right"], left_height=s["left_height"], right_height=s["right_height"]))
            call("RecordCandidate", value=area)
            s = json.loads(call("MoveLeft" if s["left_height"] < s["right_height"] else "MoveRight"))
        return call("Done", answer=int(call("BestRecorded")))


_SIZES = {"easy": (4, 12), "medium": (15, 38), "hard": (36, 80)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    heights = [rng.randint(0, 60) for _ in range(rng.randint(low, high))]
    return "ContainerWaterEnv@" + json.dumps({"heights": heights})
