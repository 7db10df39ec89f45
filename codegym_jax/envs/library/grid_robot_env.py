"""Simulate a robot following movement commands on a grid with obstacles."""

import json
import random

TASK_DESCRIPTION = """A robot stands on a grid of rows x cols cells; some cells hold obstacles. It
follows a hidden list of commands, each one of U (row - 1), D (row + 1), L (col - 1) or R (col + 1).
A command that would take the robot off the grid or onto an obstacle is skipped and the robot stays
where it is. Report the robot's final cell as [row, col]. The grid size, the start cell and the
number of commands are visible; commands and cells are inspected with tools.

Example: 3 x 3 grid, obstacle at [1, 1], start [0, 0], commands R, D, D, R -> answer [2, 2]
(the first D is blocked by the obstacle at [1, 1])."""


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

_MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}


class GridRobotEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetCommand": {"index": "int"},
        "NeighborCell": {"row": "int", "col": "int", "command": "str"},
        "IsFree": {"row": "int", "col": "int"},
        "MoveRobot": {"row": "int", "col": "int"},
        "RobotPosition": {},
        "Done": {"answer": "list[int]"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetCommand": 1,
            "NeighborCell": 2,
            "IsFree": 3,
            "MoveRobot": 4,
            "RobotPosition": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "GridRobotEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return GridRobotEnv(env_str=env_str)

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
        self.rows = int(options.get("rows", 1))
        self.cols = int(options.get("cols", 1))
        self.obstacles = {tuple(cell) for cell in options.get("obstacles", [])}
        self.start = list(options.get("start", [0, 0]))
        self.commands = str(options.get("commands", ""))
        self.position = list(self.start)
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def _free(self, row, col):
        return 0 <= row < self.rows and 0 <= col < self.cols and (row, col) not in self.obstacles

    def get_ref_answer(self):
        row, col = self.start
        for command in self.commands:
            d_row, d_col = _MOVES[command]
            if self._free(row + d_row, col + d_col):
                row, col = row + d_row, col + d_col
        return [row, col]

    def Observe(self):
        r"""
        Show the grid size, the start cell and the number of commands.

        Args:
            None

        Returns:
            str: JSON with "rows", "cols", "start" and "commands".

        Example Output:
            "{\"rows\": 3, \"cols\": 3, \"start\": [0, 0], \"commands\": 4}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols, "start": self.start,
                           "commands": len(self.commands)})

    def GetCommand(self, index):
        r"""
        Read one command.

        Args:
            index (int): Position in the command list, from 0.

        Returns:
            str: One of U, D, L, R.

        Example Output:
            "R"
        """
        if not 0 <= index < len(self.commands):
            raise ValueError(f"index {index} is outside 0..{len(self.commands) - 1}")
        return self.commands[index]

    def NeighborCell(self, row, col, command):
        r"""
        The cell one move away from a cell in a command's direction (it may lie off the grid).

        Args:
            row (int): Row of the cell.
            col (int): Column of the cell.
            command (str): One of U, D, L, R.

        Returns:
            str: JSON [row, col] of the neighbouring cell.

        Example Output:
            "[0, 1]"
        """
        if command not in _MOVES:
            raise ValueError(f"command must be one of U, D, L, R, got {command!r}")
        d_row, d_col = _MOVES[command]
        return json.dumps([row + d_row, col + d_col])

    def IsFree(self, row, col):
        r"""
        Tell whether a cell is on the grid and free of obstacles.

        Args:
            row (int): Row of the cell.
            col (int): Column of the cell.

        Returns:
            str: "true" or "false".

        Example Output:
            "false"
        """
        return json.dumps(self._free(row, col))

    def MoveRobot(self, row, col):
        r"""
        Move the robot to a free cell next to its current cell.

        Args:
            row (int): Target row.
            col (int): Target column.

        Returns:
            str: JSON [row, col] of the robot afterwards.

        Example Output:
            "[0, 1]"
        """
        if abs(row - self.position[0]) + abs(col - self.position[1]) != 1:
            raise ValueError(f"[{row}, {col}] is not next to the robot at {self.position}")
        if not self._free(row, col):
            raise ValueError(f"[{row}, {col}] is blocked or off the grid")
        self.position = [row, col]
        return json.dumps(self.position)

    def RobotPosition(self):
        r"""
        Read the robot's current cell.

        Args:
            None

        Returns:
            str: JSON [row, col].

        Example Output:
            "[2, 2]"
        """
        return json.dumps(self.position)

    def Done(self, answer):
        r"""
        Submit the robot's final cell.

        Args:
            answer (list[int]): [row, col] after all commands.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: [2, 2], Reference answer: [2, 2], Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        info = json.loads(call("Observe"))
        row, col = info["start"]
        for index in range(info["commands"]):
            command = call("GetCommand", index=index)
            next_row, next_col = json.loads(call("NeighborCell", row=row, col=col, command=command))
            if json.loads(call("IsFree", row=next_row, col=next_col)):
                row, col = json.loads(call("MoveRobot", row=next_row, col=next_col))
        return call("Done", answer=json.loads(call("RobotPosition")))


_SHAPES = {"easy": ((3, 5), (3, 8)), "medium": ((5, 8), (12, 30)), "hard": ((7, 12), (32, 66))}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    (side_low, side_high), (count_low, count_high) = _SHAPES[difficulty]
    rows, cols = rng.randint(side_low, side_high), rng.randint(side_low, side_high)
    cells = [[r, c] for r in range(rows) for c in range(cols)]
    start = rng.choice(cells)
    obstacles = [cell for cell in cells if cell != start and rng.random() < 0.2]
    commands = "".join(rng.choice("UDLR") for _ in range(rng.randint(count_low, count_high)))
    return "GridRobotEnv@" + json.dumps(
        {"rows": rows, "cols": cols, "obstacles": obstacles, "start": start, "commands": commands})
