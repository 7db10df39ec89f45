"""Length of the run-length compressed form of a hidden string."""

import json
import random
import string

TASK_DESCRIPTION = """A hidden string is compressed by replacing every maximal run of equal characters
with the character followed by the run length; a run of length 1 is written as the character alone.
Only the string's length is visible at first; characters are read by position. Report the length of the compressed string.

Example: "aaabccdddd" -> "a3bc2d4" -> answer 7."""


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


class RunLengthEncodingEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetChar": {"index": "int"},
        "RunLengthAt": {"index": "int"},
        "EncodeRun": {"char": "str", "count": "int"},
        "AppendPiece": {"piece": "str"},
        "GetEncoded": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetChar": 1,
            "RunLengthAt": 2,
            "EncodeRun": 3,
            "AppendPiece": 4,
            "GetEncoded": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "RunLengthEncodingEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return RunLengthEncodingEnv(env_str=env_str)

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
        self.encoded = ""
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        total, index = 0, 0
        while index < len(self.text):
            end = index
            while end < len(self.text) and self.text[end] == self.text[index]:
                end += 1
            run = end - index
            total += 1 + (len(str(run)) if run > 1 else 0)
            index = end
        return total

    def _check_index(self, index):
        if not 0 <= index < len(self.text):
            raise ValueError(f"index {index} is outside 0..{len(self.text) - 1}")

    def Observe(self):
        r"""
        Show the length of the hidden string and of the output buffer.

        Args:
            None

        Returns:
            str: JSON with "length" and "encoded_length".

        Example Output:
            "{\"length\": 10, \"encoded_length\": 0}"
        """
        return json.dumps({"length": len(self.text), "encoded_length": len(self.encoded)})

    def GetChar(self, index):
        r"""
        Read the character at a position.

        Args:
            index (int): Position in the string, from 0.

        Returns:
            str: The character.

        Example Output:
            "a"
        """
        self._check_index(index)
        return self.text[index]

    def RunLengthAt(self, index):
        r"""
        Count how many consecutive positions, starting at index, hold the same character as index.

        Args:
            index (int): Start position.

        Returns:
            str: The run length (at least 1).

        Example Output:
            "3"
        """
        self._check_index(index)
        end = index
        while end < len(self.text) and self.text[end] == self.text[index]:
            end += 1
        return str(end - index)

    def EncodeRun(self, char, count):
        r"""
        Write one run in compressed form.

        Args:
            char (str): The repeated character.
            count (int): The run length (>= 1).

        Returns:
            str: The compressed piece.

        Example Output:
            "a3"
        """
        if len(char) != 1:
            raise ValueError(f"expected exactly one character, got {char!r}")
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        return char if count == 1 else f"{char}{count}"

    def AppendPiece(self, piece):
        r"""
        Append a piece of text to the output buffer.

        Args:
            piece (str): Text to append.

        Returns:
            str: The buffer length afterwards.

        Example Output:
            "4"
        """
        self.encoded += piece
        return str(len(self.encoded))

    def GetEncoded(self):
        r"""
        Read the output buffer.

        Args:
            None

        Returns:
            str: The buffer contents.

        Example Output:
            "a3bc2"
        """
        return self.encoded

    def Done(self, answer):
        r"""
        Submit the length of the compressed string.

        Args:
            answer (int): The compressed length.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 7, Reference answer: 7, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        length = json.loads(call("Observe"))["length"]
        index, encoded_length = 0, 0
        while index < length:
            char = call("GetChar", index=index)
            run = int(call("RunLengthAt", index=index))
            piece = call("EncodeRun", char=char, count=run)
            encoded_length = int(call("AppendPiece", piece=piece))
            index += run
        return call("Done", answer=encoded_length)


_RUNS = {"easy": (3, 8), "medium": (10, 28), "hard": (28, 60)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _RUNS[difficulty]
    alphabet = string.ascii_lowercase[:rng.randint(3, 10)]
    pieces, previous = [], None
    for _ in range(rng.randint(low, high)):
        char = rng.choice([ch for ch in alphabet if ch != previous])
        run = rng.choice([1, 1, 2, 3, rng.randint(4, 14)])
        pieces.append(char * run)
        previous = char
    return "RunLengthEncodingEnv@" + json.dumps({"text": "".join(pieces)})
