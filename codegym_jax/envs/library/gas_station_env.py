"""Find the gas station from which a full circular trip is possible."""

import json
import random

TASK_DESCRIPTION = """Gas stations 0..n-1 stand on a circular road. Station i provides gas[i] units of
fuel and driving from station i to station i+1 (from the last one back to station 0) costs cost[i]
units. You start with an empty tank at some station. Report the smallest station index from which
you can drive once around the whole circle without the tank ever going negative, or -1 if no
station works. Only the number of stations is visible at first; stations are read by index.

Example: gas [1, 2, 3, 4, 5], cost [3, 4, 5, 1, 2] -> answer 3."""


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


class GasStationEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetStation": {"index": "int"},
        "NetGain": {"gas": "int", "cost": "int"},
        "AddToTank": {"amount": "int"},
        "RestartAt": {"index": "int"},
        "TripStatus": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetStation": 1,
            "NetGain": 2,
            "AddToTank": 3,
            "RestartAt": 4,
            "TripStatus": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "GasStationEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return GasStationEnv(env_str=env_str)

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
        self.gas = [int(x) for x in options.get("gas", [])]
        self.cost = [int(x) for x in options.get("cost", [])]
        self.tank = 0
        self.balance = 0
        self.start = 0
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        n = len(self.gas)
        for start in range(n):
            tank = 0
            for offset in range(n):
                station = (start + offset) % n
                tank += self.gas[station] - self.cost[station]
                if tank < 0:
                    break
            else:
                return start
        return -1

    def _status(self):
        return {"start": self.start, "tank": self.tank, "balance": self.balance}

    def Observe(self):
        r"""
        Show the number of stations.

        Args:
            None

        Returns:
            str: JSON with "stations".

        Example Output:
            "{\"stations\": 5}"
        """
        return json.dumps({"stations": len(self.gas)})

    def GetStation(self, index):
        r"""
        Read a station's fuel and the cost of driving on to the next station.

        Args:
            index (int): Station number, from 0.

        Returns:
            str: JSON [gas, cost].

        Example Output:
            "[4, 1]"
        """
        if not 0 <= index < len(self.gas):
            raise ValueError(f"index {index} is outside 0..{len(self.gas) - 1}")
        return json.dumps([self.gas[index], self.cost[index]])

    def NetGain(self, gas, cost):
        r"""
        Fuel left over after taking gas and paying cost.

        Args:
            gas (int): Fuel taken at a station.
            cost (int): Fuel spent on the next stretch.

        Returns:
            str: gas - cost.

        Example Output:
            "3"
        """
        return str(gas - cost)

    def AddToTank(self, amount):
        r"""
        Change the tank by an amount (may be negative); the same amount is added to the running
        balance of the whole circle, which restarts never reset.

        Args:
            amount (int): Fuel added (or, if negative, removed).

        Returns:
            str: JSON with "start", "tank" and "balance" afterwards.

        Example Output:
            "{\"start\": 0, \"tank\": -2, \"balance\": -2}"
        """
        self.tank += amount
        self.balance += amount
        return json.dumps(self._status())

    def RestartAt(self, index):
        r"""
        Empty the tank and record a new candidate start station.

        Args:
            index (int): The new candidate start, 0..n (n means no candidate is left).

        Returns:
            str: JSON with "start", "tank" and "balance" afterwards.

        Example Output:
            "{\"start\": 1, \"tank\": 0, \"balance\": -2}"
        """
        if not 0 <= index <= len(self.gas):
            raise ValueError(f"index {index} is outside 0..{len(self.gas)}")
        self.start = index
        self.tank = 0
        return json.dumps(self._status())

    def TripStatus(self):
        r"""
        Read the candidate start, the tank and the running balance.

        Args:
            None

        Returns:
            str: JSON with "start", "tank" and "balance".

        Example Output:
            "{\"start\": 3, \"tank\": 5, \"balance\": 0}"
        """
        return json.dumps(self._status())

    def Done(self, answer):
        r"""
        Submit the start station.

        Args:
            answer (int): The smallest workable start index, or -1.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 3, Reference answer: 3, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        count = json.loads(call("Observe"))["stations"]
        for index in range(count):
            gas, cost = json.loads(call("GetStation", index=index))
            status = json.loads(call("AddToTank", amount=int(call("NetGain", gas=gas, cost=cost))))
            if status["tank"] < 0:
                call("RestartAt", index=index + 1)
        status = json.loads(call("TripStatus"))
        return call("Done", answer=status["start"] if status["balance"] >= 0 else -1)


_SIZES = {"easy": (3, 10), "medium": (13, 36), "hard": (35, 72)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    count = rng.randint(low, high)
    gas = [rng.randint(0, 10) for _ in range(count)]
    cost = [rng.randint(0, 10) for _ in range(count)]
    surplus = sum(gas) - sum(cost)
    if rng.random() < 0.65 and surplus < 0:  # most instances have a solution
        for _ in range(-surplus):
            gas[rng.randrange(count)] += 1
    return "GasStationEnv@" + json.dumps({"gas": gas, "cost": cost})
