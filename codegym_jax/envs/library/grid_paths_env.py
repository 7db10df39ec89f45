"""Count monotone paths through a grid with blocked cells, filling a stateful table of path counts."""

import json
import random

TASK_DESCRIPTION = """A robot starts in the top-left cell of a grid and must reach the bottom-right cell, moving only right
or down and never entering a blocked cell. Report how many different routes it has (0 if none).

Example: grid [[0, 0, 0], [0, 1, 0], [0, 0, 0]] with 1 = blocked -> answer 2."""


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


class GridPathsEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "IsBlocked": {"row": "int", "col": "int"},
        "AddNumbers": {"a": "int", "b": "int"},
        "WriteCount": {"row": "int", "col": "int", "value": "int"},
        "ReadCount": {"row": "int", "col": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "IsBlocked": 1,
            "AddNumbers": 2,
            "WriteCount": 3,
            "ReadCount": 4,
            "Done": 5,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "GridPathsEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return GridPathsEnv(env_str=env_str)

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
        self.grid = [[int(x) for x in row] for row in options.get("grid", [[0]])]
        self.rows = len(self.grid)
        self.cols = len(self.grid[0])
        self.counts = [[None] * self.cols for _ in range(self.rows)]
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        ways = [[0] * self.cols for _ in range(self.rows)]
        for r in range(self.rows):
            for c in range(self.cols):
                if self.grid[r][c]:
                    continue
                if r == 0 and c == 0:
                    ways[r][c] = 1
                else:
                    ways[r][c] = (ways[r - 1][c] if r else 0) + (ways[r][c - 1] if c else 0)
        return ways[-1][-1]

    def _check_cell(self, row, col):
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise ValueError(f"cell ({row}, {col}) is outside the {self.rows} x {self.cols} grid")

    def Observe(self):
        r"""
        Show the grid size (the cells stay hidden).

        Args:
            None

        Returns:
            str: JSON with "rows" and "cols".

        Example Output:
            "{\"rows\": 3, \"cols\": 3}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols})

    def IsBlocked(self, row, col):
        r"""
        Tell whether a cell is blocked.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.

        Returns:
            str: "true" or "false".

        Example Output:
            "false"
        """
        self._check_cell(row, col)
        return json.dumps(bool(self.grid[row][col]))

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

    def WriteCount(self, row, col, value):
        r"""
        Store a route count for a cell.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.
            value (int): The count to store.

        Returns:
            str: Confirmation.

        Example Output:
            "count[1][2] = 1"
        """
        self._check_cell(row, col)
        self.counts[row][col] = value
        return f"count[{row}][{col}] = {value}"

    def ReadCount(self, row, col):
        r"""
        Read the stored route count of a cell.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.

        Returns:
            str: The stored count, or "unset".

        Example Output:
            "2"
        """
        self._check_cell(row, col)
        return "unset" if self.counts[row][col] is None else str(self.counts[row][col])

    def Done(self, answer):
        r"""
        Submit the number of routes.

        Args:
            answer (int): The number of routes.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 2, Reference answer: 2, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        info = json.loads(call("Observe"))
        rows, cols = info["rows"], info["cols"]
        ways = [[0] * cols for _ in range(rows)]
        for r in range(rows):
            for c in range(cols):
                if call("IsBlocked", row=r, col=c) == "true":
                    value = 0
                elif r == 0 and c == 0:
                    value = 1
                else:
                    value = (ways[r - 1][c] if r else 0) + (ways[r][c - 1] if c else 0)
                ways[r][c] = value
                call("WriteCount", row=r, col=c, value=value)
        return call("Done", answer=int(call("ReadCount", row=rows - 1, col=cols - 1)))


_SIZES = {"easy": (3, 4), "medium": (5, 7), "hard": (8, 11)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    rows, cols = rng.randint(low, high), rng.randint(low, high)
    density = rng.choice([0.1, 0.15, 0.2])
    grid = [[1 if rng.random() < density else 0 for _ in range(cols)] for _ in range(rows)]
    grid[0][0] = 0
    grid[-1][-1] = 0
    return "GridPathsEnv@" + json.dumps({"grid": grid})
