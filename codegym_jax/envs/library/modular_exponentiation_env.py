"""base ** exponent mod m by repeated squaring, with the exponent revealed bit by bit."""

import json
import random

TASK_DESCRIPTION = """Compute base raised to a (very large) exponent, modulo m. The base and the modulus
are visible, but the exponent is hidden: you only know how many binary digits it has and can read
them one at a time. Modular arithmetic helpers are available. Report the remainder.

Example: base 3, exponent 13 (binary 1101), m = 7 -> 3^13 = 1594323 -> answer 3."""


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


class ModularExponentiationEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetBit": {"position": "int"},
        "ReduceMod": {"value": "int"},
        "MultiplyMod": {"a": "int", "b": "int"},
        "SquareMod": {"a": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetBit": 1,
            "ReduceMod": 2,
            "MultiplyMod": 3,
            "SquareMod": 4,
            "Done": 5,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "ModularExponentiationEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return ModularExponentiationEnv(env_str=env_str)

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
        self.base = int(options.get("base", 0))
        self.exponent = int(options.get("exponent", 0))
        self.modulus = int(options.get("modulus", 1))
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        return pow(self.base, self.exponent, self.modulus)

    def Observe(self):
        r"""
        Show the base, the modulus and the number of binary digits of the exponent.

        Args:
            None

        Returns:
            str: JSON with "base", "modulus" and "exponent_bits".

        Example Output:
            "{\"base\": 3, \"modulus\": 7, \"exponent_bits\": 4}"
        """
        return json.dumps({"base": self.base, "modulus": self.modulus,
                           "exponent_bits": self.exponent.bit_length()})

    def GetBit(self, position):
        r"""
        Read one binary digit of the exponent; position 0 is the least significant.

        Args:
            position (int): Bit position (>= 0).

        Returns:
            str: "0" or "1".

        Example Output:
            "1"
        """
        if position < 0:
            raise ValueError(f"position must be >= 0, got {position}")
        return str((self.exponent >> position) & 1)

    def ReduceMod(self, value):
        r"""
        Remainder of a value modulo m (always in 0..m-1).

        Args:
            value (int): Any integer.

        Returns:
            str: value mod m.

        Example Output:
            "3"
        """
        return str(value % self.modulus)

    def MultiplyMod(self, a, b):
        r"""
        Product of two integers modulo m.

        Args:
            a (int): First factor.
            b (int): Second factor.

        Returns:
            str: (a * b) mod m.

        Example Output:
            "6"
        """
        return str(a * b % self.modulus)

    def SquareMod(self, a):
        r"""
        Square of an integer modulo m.

        Args:
            a (int): The integer.

        Returns:
            str: (a * a) mod m.

        Example Output:
            "2"
        """
        return str(a * a % self.modulus)

    def Done(self, answer):
        r"""
        Submit base ** exponent mod m.

        Args:
            answer (int): The remainder.

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
        result = int(call("ReduceMod", value=1))
        power = int(call("ReduceMod", value=info["base"]))
        bits = info["exponent_bits"]
        for position in range(bits):
            if call("GetBit", position=position) == "1":
                result = int(call("MultiplyMod", a=result, b=power))
            if position + 1 < bits:
                power = int(call("SquareMod", a=power))
        return call("Done", answer=result)


_BITS = {"easy": (4, 12), "medium": (16, 45), "hard": (45, 95)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _BITS[difficulty]
    bits = rng.randint(low, high)
    exponent = (1 << (bits - 1)) | rng.getrandbits(bits - 1)
    modulus = rng.randint(2, 10 ** rng.randint(2, 9))
    base = rng.randint(2, 10 ** 6)
    return "ModularExponentiationEnv@" + json.dumps({"base": base, "exponent": exponent, "modulus": modulus})
