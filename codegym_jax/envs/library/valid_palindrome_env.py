"""Is a hidden string a palindrome once reduced to lower-case letters and digits?"""

import json
import random
import string

TASK_DESCRIPTION = """A hidden string may contain letters, digits, spaces and punctuation. Ignoring every
character that is not a letter or digit, and ignoring letter case, decide whether it reads the same
forwards and backwards. Only the string's length is visible at first; characters are read by position.
Answer true or false.

Example: "Was it a car, or a cat I saw?" -> answer true."""


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


class ValidPalindromeEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetChar": {"index": "int"},
        "IsAlphanumeric": {"char": "str"},
        "SkipToAlphanumeric": {"index": "int", "direction": "int"},
        "SameIgnoringCase": {"left": "int", "right": "int"},
        "ToLower": {"char": "str"},
        "Done": {"answer": "bool"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetChar": 1,
            "IsAlphanumeric": 2,
            "SkipToAlphanumeric": 3,
            "SameIgnoringCase": 4,
            "ToLower": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "ValidPalindromeEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return ValidPalindromeEnv(env_str=env_str)

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
        self.text = str(options.get("text", ""))
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        cleaned = [ch.lower() for ch in self.text if ch.isascii() and ch.isalnum()]
        return cleaned == cleaned[::-1]

    def _check_index(self, index):
        if not 0 <= index < len(self.text):
            raise ValueError(f"index {index} is outside 0..{len(self.text) - 1}")

    def Observe(self):
        r"""
        Show the length of the hidden string.

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 29}"
        """
        return json.dumps({"length": len(self.text)})

    def GetChar(self, index):
        r"""
        Read the character at a position.

        Args:
            index (int): Position in the string, from 0.

        Returns:
            str: JSON string holding the character.

        Example Output:
            "\"W\""
        """
        self._check_index(index)
        return json.dumps(self.text[index])

    def IsAlphanumeric(self, char):
        r"""
        Tell whether a single character is an ASCII letter or digit.

        Args:
            char (str): One character.

        Returns:
            str: "true" or "false".

        Example Output:
            "false"
        """
        if len(char) != 1:
            raise ValueError(f"expected exactly one character, got {char!r}")
        return json.dumps(char.isascii() and char.isalnum())

    def SkipToAlphanumeric(self, index, direction):
        r"""
        Starting at a position and moving in a direction, find the first position holding a letter or
        digit (the start position itself counts).

        Args:
            index (int): Start position; may be -1 or the length (then nothing is found).
            direction (int): 1 to move right, -1 to move left.

        Returns:
            str: The position found, or -1 if the scan leaves the string.

        Example Output:
            "4"
        """
        if direction not in (1, -1):
            raise ValueError(f"direction must be 1 or -1, got {direction}")
        if not -1 <= index <= len(self.text):
            raise ValueError(f"index {index} is outside -1..{len(self.text)}")
        while 0 <= index < len(self.text):
            ch = self.text[index]
            if ch.isascii() and ch.isalnum():
                return str(index)
            index += direction
        return "-1"

    def SameIgnoringCase(self, left, right):
        r"""
        Compare the characters at two positions, ignoring letter case.

        Args:
            left (int): First position.
            right (int): Second position.

        Returns:
            str: "true" if they match, else "false".

        Example Output:
            "true"
        """
        self._check_index(left)
        self._check_index(right)
        return json.dumps(self.text[left].lower() == self.text[right].lower())

    def ToLower(self, char):
        r"""
        Lower-case form of a single character (other characters come back unchanged).

        Args:
            char (str): One character.

        Returns:
            str: JSON string holding the lower-case character.

        Example Output:
            "\"w\""
        """
        if len(char) != 1:
            raise ValueError(f"expected exactly one character, got {char!r}")
        return json.dumps(char.lower())

    def Done(self, answer):
        r"""
        Submit whether the cleaned string is a palindrome.

        Args:
            answer (bool): true if it is a palindrome, else false.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: True, Reference answer: True, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        length = json.loads(call("Observe"))["length"]
        left = int(call("SkipToAlphanumeric", index=0, direction=1))
        right = int(call("SkipToAlphanumeric", index=length - 1, direction=-1))
        answer = True
        while left != -1 and right != -1 and left < right:
            if not json.loads(call("SameIgnoringCase", left=left, right=right)):
                answer = False
                break
            left = int(call("SkipToAlphanumeric", index=left + 1, direction=1))
            right = int(call("SkipToAlphanumeric", index=right - 1, direction=-1))
        return call("Done", answer=answer)


_SIZES = {"easy": (6, 20), "medium": (26, 70), "hard": (75, 150)}
_FILLER = " ,.;:!?-'"


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    count = rng.randint(low, high)
    alphabet = string.ascii_lowercase[:rng.randint(3, 8)] + "0123"
    half = [rng.choice(alphabet) for _ in range(count // 2)]
    core = half + ([rng.choice(alphabet)] if count % 2 else []) + half[::-1]
    if rng.random() < 0.5:  # break the mirror at one position
        i = rng.randrange(len(core) // 4, len(core) // 2)
        core[i] = rng.choice([ch for ch in alphabet if ch != core[len(core) - 1 - i]])
    text = []
    for ch in core:
        while rng.random() < 0.25:
            text.append(rng.choice(_FILLER))
        text.append(ch.upper() if rng.random() < 0.4 else ch)
    if rng.random() < 0.5:
        text.append(rng.choice(_FILLER))
    return "ValidPalindromeEnv@" + json.dumps({"text": "".join(text)})
