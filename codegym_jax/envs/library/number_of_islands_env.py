"""Count islands on a hidden grid revealed one cell at a time, with a stateful visited set."""

import json
import random

TASK_DESCRIPTION = """A map is a grid of land (1) and water (0) cells. An island is a group of land cells joined through
their top, bottom, left or right sides. Report how many islands the map has.

Example: [[1, 1, 0], [0, 0, 1], [1, 0, 1]] -> islands {(0,0), (0,1)}, {(1,2), (2,2)}, {(2,0)} -> answer 3."""


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


class NumberOfIslandsEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "RevealCell": {"row": "int", "col": "int"},
        "Neighbors": {"row": "int", "col": "int"},
        "MarkVisited": {"row": "int", "col": "int"},
        "IsVisited": {"row": "int", "col": "int"},
        "StartIsland": {},
        "IslandCount": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "RevealCell": 1,
            "Neighbors": 2,
            "MarkVisited": 3,
            "IsVisited": 4,
            "StartIsland": 5,
            "IslandCount": 6,
            "Done": 7,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "NumberOfIslandsEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return NumberOfIslandsEnv(env_str=env_str)

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
        self.visited = set()
        self.islands = 0
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        seen, count = set(), 0
        for r in range(self.rows):
            for c in range(self.cols):
                if self.grid[r][c] and (r, c) not in seen:
                    count += 1
                    seen.add((r, c))
                    stack = [(r, c)]
                    while stack:
                        y, x = stack.pop()
                        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                            if 0 <= ny < self.rows and 0 <= nx < self.cols and self.grid[ny][nx] and (ny, nx) not in seen:
                                seen.add((ny, nx))
                                stack.append((ny, nx))
        return count

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
            "{\"rows\": 4, \"cols\": 5}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols})

    def RevealCell(self, row, col):
        r"""
        Look at one cell of the map.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.

        Returns:
            str: "land" or "water".

        Example Output:
            "land"
        """
        self._check_cell(row, col)
        return "land" if self.grid[row][col] else "water"

    def Neighbors(self, row, col):
        r"""
        List the cells directly above, below, left and right of a cell that lie inside the grid.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.

        Returns:
            str: JSON list of [row, col] pairs.

        Example Output:
            "[[0, 1], [1, 0]]"
        """
        self._check_cell(row, col)
        out = []
        for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
            if 0 <= r < self.rows and 0 <= c < self.cols:
                out.append([r, c])
        return json.dumps(out)

    def MarkVisited(self, row, col):
        r"""
        Add a cell to the visited set.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.

        Returns:
            str: "marked", or "already visited" if it was in the set.

        Example Output:
            "marked"
        """
        self._check_cell(row, col)
        if (row, col) in self.visited:
            return "already visited"
        self.visited.add((row, col))
        return "marked"

    def IsVisited(self, row, col):
        r"""
        Tell whether a cell is in the visited set.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.

        Returns:
            str: "true" or "false".

        Example Output:
            "false"
        """
        self._check_cell(row, col)
        return json.dumps((row, col) in self.visited)

    def StartIsland(self):
        r"""
        Add one to the island counter.

        Args:
            None

        Returns:
            str: The counter after the increment.

        Example Output:
            "2"
        """
        self.islands += 1
        return str(self.islands)

    def IslandCount(self):
        r"""
        Show the island counter.

        Args:
            None

        Returns:
            str: The counter.

        Example Output:
            "3"
        """
        return str(self.islands)

    def Done(self, answer):
        r"""
        Submit the number of islands.

        Args:
            answer (int): The number of islands.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 3, Reference answer: 3, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        info = json.loads(call("Observe"))
        rows, cols = info["rows"], info["cols"]
        known = {}
        visited = set()
        for r in range(rows):
            for c in range(cols):
                if (r, c) in visited:
                    continue
                if (r, c) not in known:
                    known[(r, c)] = call("RevealCell", row=r, col=c)
                if known[(r, c)] != "land":
                    continue
                call("StartIsland")
                call("MarkVisited", row=r, col=c)
                visited.add((r, c))
                stack = [(r, c)]
                while stack:
                    y, x = stack.pop()
                    for ny, nx in json.loads(call("Neighbors", row=y, col=x)):
                        if (ny, nx) in visited:
                            continue
                        if (ny, nx) not in known:
                            known[(ny, nx)] = call("RevealCell", row=ny, col=nx)
                        if known[(ny, nx)] == "land":
                            call("MarkVisited", row=ny, col=nx)
                            visited.add((ny, nx))
                            stack.append((ny, nx))
        return call("Done", answer=int(call("IslandCount")))


_SIZES = {"easy": (2, 4), "medium": (5, 7), "hard": (8, 10)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    rows, cols = rng.randint(low, high), rng.randint(low, high)
    density = rng.choice([0.3, 0.4, 0.5])
    grid = [[1 if rng.random() < density else 0 for _ in range(cols)] for _ in range(rows)]
    return "NumberOfIslandsEnv@" + json.dumps({"grid": grid})
