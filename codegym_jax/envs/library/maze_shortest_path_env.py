"""Fewest moves through a hidden maze, exploring with a stateful breadth-first queue."""

import json
import random

TASK_DESCRIPTION = """A maze is a grid of open cells (0) and walls (1). Starting in the top-left cell, you may move up,
down, left or right into open cells. Report the fewest moves needed to reach the bottom-right cell,
or -1 if it cannot be reached.

Example: [[0, 1, 0], [0, 0, 0], [1, 1, 0]] -> down, right, right, down -> answer 4."""


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


class MazeShortestPathEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "OpenNeighbors": {"row": "int", "col": "int"},
        "Enqueue": {"row": "int", "col": "int", "dist": "int"},
        "Dequeue": {},
        "QueueSize": {},
        "IsGoal": {"row": "int", "col": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "OpenNeighbors": 1,
            "Enqueue": 2,
            "Dequeue": 3,
            "QueueSize": 4,
            "IsGoal": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "MazeShortestPathEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return MazeShortestPathEnv(env_str=env_str)

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
        self.queue = []
        self.seen = set()
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        goal = (self.rows - 1, self.cols - 1)
        dist = {(0, 0): 0}
        frontier = [(0, 0)]
        for y, x in frontier:
            if (y, x) == goal:
                return dist[goal]
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < self.rows and 0 <= nx < self.cols and not self.grid[ny][nx] and (ny, nx) not in dist:
                    dist[(ny, nx)] = dist[(y, x)] + 1
                    frontier.append((ny, nx))
        return -1

    def _check_cell(self, row, col):
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise ValueError(f"cell ({row}, {col}) is outside the {self.rows} x {self.cols} grid")

    def Observe(self):
        r"""
        Show the maze size; the start is the top-left cell and the goal the bottom-right one (walls stay hidden).

        Args:
            None

        Returns:
            str: JSON with "rows" and "cols".

        Example Output:
            "{\"rows\": 3, \"cols\": 3}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols})

    def OpenNeighbors(self, row, col):
        r"""
        List the open cells directly above, below, left and right of a cell.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.

        Returns:
            str: JSON list of [row, col] pairs.

        Example Output:
            "[[1, 0], [1, 2]]"
        """
        self._check_cell(row, col)
        out = []
        for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
            if 0 <= r < self.rows and 0 <= c < self.cols and not self.grid[r][c]:
                out.append([r, c])
        return json.dumps(out)

    def Enqueue(self, row, col, dist):
        r"""
        Add a cell with its distance at the back of the queue, unless the cell was enqueued before.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.
            dist (int): Moves from the start.

        Returns:
            str: "queued", or "seen before" if the cell was already enqueued once.

        Example Output:
            "queued"
        """
        self._check_cell(row, col)
        if (row, col) in self.seen:
            return "seen before"
        self.seen.add((row, col))
        self.queue.append([row, col, dist])
        return "queued"

    def Dequeue(self):
        r"""
        Take the cell at the front of the queue.

        Args:
            None

        Returns:
            str: JSON with "row", "col" and "dist", or "empty".

        Example Output:
            "{\"row\": 1, \"col\": 0, \"dist\": 1}"
        """
        if not self.queue:
            return "empty"
        row, col, dist = self.queue.pop(0)
        return json.dumps({"row": row, "col": col, "dist": dist})

    def QueueSize(self):
        r"""
        Show how many cells wait in the queue.

        Args:
            None

        Returns:
            str: The size.

        Example Output:
            "2"
        """
        return str(len(self.queue))

    def IsGoal(self, row, col):
        r"""
        Tell whether a cell is the goal.

        Args:
            row (int): Row, 0-based.
            col (int): Column, 0-based.

        Returns:
            str: "true" or "false".

        Example Output:
            "false"
        """
        self._check_cell(row, col)
        return json.dumps((row, col) == (self.rows - 1, self.cols - 1))

    def Done(self, answer):
        r"""
        Submit the fewest moves (-1 if unreachable).

        Args:
            answer (int): The fewest moves (-1 if unreachable).

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
        goal = [info["rows"] - 1, info["cols"] - 1]
        seen = {(0, 0)}
        call("Enqueue", row=0, col=0, dist=0)
        answer = -1
        while True:
            item = call("Dequeue")
            if item == "empty":
                break
            cell = json.loads(item)
            if [cell["row"], cell["col"]] == goal:
                answer = cell["dist"]
                break
            for r, c in json.loads(call("OpenNeighbors", row=cell["row"], col=cell["col"])):
                if (r, c) not in seen:
                    seen.add((r, c))
                    call("Enqueue", row=r, col=c, dist=cell["dist"] + 1)
        return call("Done", answer=answer)


_SIZES = {"easy": (3, 4), "medium": (5, 7), "hard": (8, 10)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    rows, cols = rng.randint(low, high), rng.randint(low, high)
    density = rng.choice([0.15, 0.25, 0.3])
    while True:
        grid = [[1 if rng.random() < density else 0 for _ in range(cols)] for _ in range(rows)]
        grid[0][0] = 0
        grid[-1][-1] = 0
        reach = _reachable(grid)
        # Keep unreachable goals only when the search still has a large region to explore.
        if (rows - 1, cols - 1) in reach or len(reach) * 2 >= rows * cols:
            return "MazeShortestPathEnv@" + json.dumps({"grid": grid})


def _reachable(grid):
    """Open cells reachable from the top-left cell."""
    rows, cols = len(grid), len(grid[0])
    seen, stack = {(0, 0)}, [(0, 0)]
    while stack:
        y, x = stack.pop()
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < rows and 0 <= nx < cols and not grid[ny][nx] and (ny, nx) not in seen:
                seen.add((ny, nx))
                stack.append((ny, nx))
    return seen
