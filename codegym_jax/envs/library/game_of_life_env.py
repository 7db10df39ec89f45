"""One generation of Conway's Game of Life on a hidden board, then count the live cells."""

import json
import random

TASK_DESCRIPTION = """A rectangular board of cells, each alive (1) or dead (0), advances one generation
of Conway's Game of Life: a live cell with 2 or 3 live neighbours stays alive, a dead cell with
exactly 3 live neighbours becomes alive, and every other cell is dead afterwards. Neighbours are the
up to 8 surrounding cells; cells beyond the edge count as dead. Only the board size is visible at
first; rows are read with a tool, and the environment keeps a next-generation board (all dead at
the start) you can write to. Report the number of live cells after one generation.

Example: [[0, 1, 0], [0, 1, 0], [0, 1, 0]] -> [[0, 0, 0], [1, 1, 1], [0, 0, 0]] -> answer 3."""


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


class GameOfLifeEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetRow": {"row": "int"},
        "LiveNeighbors": {"row": "int", "col": "int"},
        "NextState": {"alive": "int", "neighbors": "int"},
        "SetNextAlive": {"row": "int", "col": "int"},
        "CountNextAlive": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetRow": 1,
            "LiveNeighbors": 2,
            "NextState": 3,
            "SetNextAlive": 4,
            "CountNextAlive": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "GameOfLifeEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return GameOfLifeEnv(env_str=env_str)

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
        self.board = [list(row) for row in options.get("board", [])]
        self.rows = len(self.board)
        self.cols = len(self.board[0]) if self.board else 0
        self.next_board = [[0] * self.cols for _ in range(self.rows)]
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def _neighbors(self, row, col):
        return sum(self.board[r][c]
                   for r in range(max(row - 1, 0), min(row + 2, self.rows))
                   for c in range(max(col - 1, 0), min(col + 2, self.cols))
                   if (r, c) != (row, col))

    def get_ref_answer(self):
        live = 0
        for r in range(self.rows):
            for c in range(self.cols):
                count = self._neighbors(r, c)
                live += count == 3 or (self.board[r][c] == 1 and count == 2)
        return live

    def _check_cell(self, row, col):
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise ValueError(f"cell [{row}, {col}] is outside the {self.rows} x {self.cols} board")

    def Observe(self):
        r"""
        Show the board size and the number of live cells written to the next-generation board.

        Args:
            None

        Returns:
            str: JSON with "rows", "cols" and "next_alive".

        Example Output:
            "{\"rows\": 3, \"cols\": 3, \"next_alive\": 0}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols,
                           "next_alive": sum(map(sum, self.next_board))})

    def GetRow(self, row):
        r"""
        Read one row of the current board.

        Args:
            row (int): Row number, from 0.

        Returns:
            str: JSON list of 0/1 cells.

        Example Output:
            "[0, 1, 0]"
        """
        if not 0 <= row < self.rows:
            raise ValueError(f"row {row} is outside 0..{self.rows - 1}")
        return json.dumps(self.board[row])

    def LiveNeighbors(self, row, col):
        r"""
        Count the live cells among the up to 8 cells around a cell of the current board.

        Args:
            row (int): Row of the cell.
            col (int): Column of the cell.

        Returns:
            str: The count, 0..8.

        Example Output:
            "2"
        """
        self._check_cell(row, col)
        return str(self._neighbors(row, col))

    def NextState(self, alive, neighbors):
        r"""
        Apply the Game of Life rule to one cell.

        Args:
            alive (int): 1 if the cell is alive now, else 0.
            neighbors (int): Its number of live neighbours, 0..8.

        Returns:
            str: "1" if it is alive in the next generation, else "0".

        Example Output:
            "1"
        """
        if alive not in (0, 1) or not 0 <= neighbors <= 8:
            raise ValueError(f"need alive in {{0, 1}} and neighbors in 0..8, got {alive}, {neighbors}")
        return "1" if neighbors == 3 or (alive == 1 and neighbors == 2) else "0"

    def SetNextAlive(self, row, col):
        r"""
        Mark a cell alive on the next-generation board.

        Args:
            row (int): Row of the cell.
            col (int): Column of the cell.

        Returns:
            str: The number of live cells on the next-generation board afterwards.

        Example Output:
            "2"
        """
        self._check_cell(row, col)
        self.next_board[row][col] = 1
        return str(sum(map(sum, self.next_board)))

    def CountNextAlive(self):
        r"""
        Count the live cells on the next-generation board.

        Args:
            None

        Returns:
            str: The count.

        Example Output:
            "3"
        """
        return str(sum(map(sum, self.next_board)))

    def Done(self, answer):
        r"""
        Submit the number of live cells after one generation.

        Args:
            answer (int): The live-cell count.

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
        for row in range(info["rows"]):
            cells = json.loads(call("GetRow", row=row))
            for col in range(info["cols"]):
                neighbors = int(call("LiveNeighbors", row=row, col=col))
                if call("NextState", alive=cells[col], neighbors=neighbors) == "1":
                    call("SetNextAlive", row=row, col=col)
        return call("Done", answer=int(call("CountNextAlive")))


_SIDES = {"easy": ((2, 3), (2, 4)), "medium": ((4, 6), (4, 8)), "hard": ((6, 8), (7, 9))}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    (row_low, row_high), (col_low, col_high) = _SIDES[difficulty]
    rows, cols = rng.randint(row_low, row_high), rng.randint(col_low, col_high)
    density = rng.uniform(0.25, 0.5)
    board = [[int(rng.random() < density) for _ in range(cols)] for _ in range(rows)]
    return "GameOfLifeEnv@" + json.dumps({"board": board})
