"""Convert a hidden numeral from one base to another."""

import json
import math
import random

TASK_DESCRIPTION = """A non-negative integer is written as a numeral in a source base (2..36, digits
0-9 then A-Z). Write the same number in a target base, using upper-case digits and no leading zeros
("0" for zero). The bases and the numeral's length are visible; its digits are read one at a time
from the left, and arithmetic helpers are available. Report the converted numeral.

Example: "FF" in base 16 to base 2 -> answer "11111111"."""


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

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class BaseConversionEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetDigit": {"position": "int"},
        "DigitValue": {"digit": "str"},
        "MultiplyAdd": {"value": "int", "factor": "int", "addend": "int"},
        "DivMod": {"value": "int", "divisor": "int"},
        "ValueToDigit": {"value": "int"},
        "Done": {"answer": "str"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetDigit": 1,
            "DigitValue": 2,
            "MultiplyAdd": 3,
            "DivMod": 4,
            "ValueToDigit": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "BaseConversionEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return BaseConversionEnv(env_str=env_str)

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
        self.numeral = str(options.get("numeral", "0"))
        self.source_base = int(options.get("source_base", 10))
        self.target_base = int(options.get("target_base", 10))
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        value = int(self.numeral, self.source_base)
        if value == 0:
            return "0"
        digits = []
        while value:
            value, remainder = divmod(value, self.target_base)
            digits.append(_DIGITS[remainder])
        return "".join(reversed(digits))

    def Observe(self):
        r"""
        Show the source base, the target base and the numeral's length.

        Args:
            None

        Returns:
            str: JSON with "source_base", "target_base" and "length".

        Example Output:
            "{\"source_base\": 16, \"target_base\": 2, \"length\": 2}"
        """
        return json.dumps({"source_base": self.source_base, "target_base": self.target_base,
                           "length": len(self.numeral)})

    def GetDigit(self, position):
        r"""
        Read one digit of the numeral; position 0 is the leftmost (most significant).

        Args:
            position (int): Digit position.

        Returns:
            str: The digit character.

        Example Output:
            "F"
        """
        if not 0 <= position < len(self.numeral):
            raise ValueError(f"position {position} is outside 0..{len(self.numeral) - 1}")
        return self.numeral[position]

    def DigitValue(self, digit):
        r"""
        Numeric value of one digit character (0-9, A-Z, case-insensitive).

        Args:
            digit (str): One digit character.

        Returns:
            str: Its value, 0..35.

        Example Output:
            "15"
        """
        if len(digit) != 1 or digit.upper() not in _DIGITS:
            raise ValueError(f"not a digit character: {digit!r}")
        return str(_DIGITS.index(digit.upper()))

    def MultiplyAdd(self, value, factor, addend):
        r"""
        Compute value * factor + addend.

        Args:
            value (int): The running value.
            factor (int): The multiplier.
            addend (int): The number added afterwards.

        Returns:
            str: The result.

        Example Output:
            "255"
        """
        return str(value * factor + addend)

    def DivMod(self, value, divisor):
        r"""
        Integer quotient and remainder.

        Args:
            value (int): The dividend (>= 0).
            divisor (int): The divisor (>= 1).

        Returns:
            str: JSON [quotient, remainder].

        Example Output:
            "[127, 1]"
        """
        if value < 0 or divisor < 1:
            raise ValueError(f"need value >= 0 and divisor >= 1, got {value} and {divisor}")
        return json.dumps(list(divmod(value, divisor)))

    def ValueToDigit(self, value):
        r"""
        Digit character for a value 0..35.

        Args:
            value (int): The digit value.

        Returns:
            str: The upper-case digit character.

        Example Output:
            "1"
        """
        if not 0 <= value < len(_DIGITS):
            raise ValueError(f"digit value must be in 0..35, got {value}")
        return _DIGITS[value]

    def Done(self, answer):
        r"""
        Submit the numeral in the target base.

        Args:
            answer (str): Upper-case digits without leading zeros.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 11111111, Reference answer: 11111111, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        info = json.loads(call("Observe"))
        value = 0
        for position in range(info["length"]):
            digit = call("GetDigit", position=position)
            value = int(call("MultiplyAdd", value=value, factor=info["source_base"],
                             addend=int(call("DigitValue", digit=digit))))
        digits = ""
        while True:
            value, remainder = json.loads(call("DivMod", value=value, divisor=info["target_base"]))
            digits = call("ValueToDigit", value=remainder) + digits
            if value == 0:
                break
        return call("Done", answer=digits)


_STEPS = {"easy": (12, 38), "medium": (45, 115), "hard": (110, 240)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    source_base, target_base = rng.sample([2, 3, 5, 7, 8, 10, 12, 16, 20, 36], 2)
    # About 3 calls per source digit and 2 per target digit: size the number for the step budget,
    # keeping the answer within 100 digits.
    calls_per_bit = 3 / math.log2(source_base) + 2 / math.log2(target_base)
    bits = int(rng.randint(*_STEPS[difficulty]) / calls_per_bit)
    bits = max(2, min(bits, int(100 * math.log2(target_base))))
    value = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
    numeral = ""
    while value:
        value, remainder = divmod(value, source_base)
        numeral = _DIGITS[remainder] + numeral
    return "BaseConversionEnv@" + json.dumps(
        {"numeral": numeral, "source_base": source_base, "target_base": target_base})
