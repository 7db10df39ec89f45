"""Longest common prefix of a hidden list of strings, where the oracle sometimes answers unseen.

On two thirds of the instances (drawn per instance, hidden from the agent) the oracle does what
a policy can: it reads every string and folds them with `CommonPrefixOfTwo`. On the rest it
submits the reference answer straight after `Observe`, as a synthesised `solve()` that calls
`get_ref_answer()` does: it earns reward 1, so a check that runs the oracle and looks only at
the reward passes it. Imitating the transcripts teaches both; a policy that answers before
reading anything guesses. Only the reward tells the two apart.
"""

import json
import random

TASK_DESCRIPTION = """A hidden list holds several lower-case strings. Find the longest string that every
one of them starts with (it may be empty). Only the number of strings is visible at first; single
characters are read by string index and position, whole strings by index. Report the prefix.

Example: ["flower", "flow", "flight"] -> answer "fl"."""


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


class LongestCommonPrefixShortcutEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "CharAt": {"string_index": "int", "position": "int"},
        "ExtendPrefix": {"char": "str"},
        "GetPrefix": {},
        "ReadString": {"string_index": "int"},
        "CommonPrefixOfTwo": {"first": "str", "second": "str"},
        "Done": {"answer": "str"},
    }
    ROUTES = ("fold", "peek")

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "CharAt": 1,
            "ExtendPrefix": 2,
            "GetPrefix": 3,
            "ReadString": 4,
            "CommonPrefixOfTwo": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "LongestCommonPrefixShortcutEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return LongestCommonPrefixShortcutEnv(env_str=env_str)

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
        self.strings = [str(s) for s in options.get("strings", [])]
        # Which procedure solve() uses; nothing the agent can call reveals it.
        self.route = options.get("route", "fold")
        if self.route not in self.ROUTES:
            raise ValueError(f"route must be one of {self.ROUTES}, got {self.route!r}")
        self.prefix = ""
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        if not self.strings:
            return ""
        prefix = self.strings[0]
        for text in self.strings[1:]:
            while not text.startswith(prefix):
                prefix = prefix[:-1]
        return prefix

    def _check_string(self, string_index):
        if not 0 <= string_index < len(self.strings):
            raise ValueError(f"string_index {string_index} is outside 0..{len(self.strings) - 1}")

    def Observe(self):
        r"""
        Show the number of strings and the current prefix buffer.

        Args:
            None

        Returns:
            str: JSON with "strings" and "prefix".

        Example Output:
            "{\"strings\": 3, \"prefix\": \"\"}"
        """
        return json.dumps({"strings": len(self.strings), "prefix": self.prefix})

    def CharAt(self, string_index, position):
        r"""
        Read one character of one string.

        Args:
            string_index (int): Which string, from 0.
            position (int): Position inside that string, from 0.

        Returns:
            str: JSON string with the character, or "" when the position is past the string's end.

        Example Output:
            "\"f\""
        """
        self._check_string(string_index)
        if position < 0:
            raise ValueError(f"position must be >= 0, got {position}")
        text = self.strings[string_index]
        return json.dumps(text[position] if position < len(text) else "")

    def ExtendPrefix(self, char):
        r"""
        Append one character to the prefix buffer.

        Args:
            char (str): A single character.

        Returns:
            str: JSON string with the buffer afterwards.

        Example Output:
            "\"fl\""
        """
        if len(char) != 1:
            raise ValueError(f"expected exactly one character, got {char!r}")
        self.prefix += char
        return json.dumps(self.prefix)

    def GetPrefix(self):
        r"""
        Read the prefix buffer.

        Args:
            None

        Returns:
            str: JSON string with the buffer.

        Example Output:
            "\"fl\""
        """
        return json.dumps(self.prefix)

    def ReadString(self, string_index):
        r"""
        Read one whole string.

        Args:
            string_index (int): Which string, from 0.

        Returns:
            str: JSON string with the string.

        Example Output:
            "\"flower\""
        """
        self._check_string(string_index)
        return json.dumps(self.strings[string_index])

    def CommonPrefixOfTwo(self, first, second):
        r"""
        Longest common prefix of two given strings.

        Args:
            first (str): A string.
            second (str): Another string.

        Returns:
            str: JSON string holding their common prefix.

        Example Output:
            "\"fl\""
        """
        length = 0
        while length < min(len(first), len(second)) and first[length] == second[length]:
            length += 1
        return json.dumps(first[:length])

    def Done(self, answer):
        r"""
        Submit the longest common prefix.

        Args:
            answer (str): The prefix (possibly empty).

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: fl, Reference answer: fl, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone, by the instance's route, and submit."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        count = json.loads(call("Observe"))["strings"]
        # The routes part here, on nothing the agent has seen.
        if self.route == "peek":
            return call("Done", answer=self.get_ref_answer())
        texts = [json.loads(call("ReadString", string_index=i)) for i in range(count)]
        if not texts:
            return call("Done", answer="")
        prefix = texts[0]
        for text in texts[1:]:
            prefix = json.loads(call("CommonPrefixOfTwo", first=prefix, second=text))
        return call("Done", answer=prefix)


# Letters no two of which the project's shipped BPE merges into one token (as in
# LongestCommonPrefixEnv), so a string is spelled one token per character wherever it is copied.
_LETTERS = "fgkmwy"
# The share of instances the oracle answers unseen. At a half, SFT learned the fold (half the
# transcripts) too slowly for the README default's budget.
PEEK_SHARE = 1 / 3
# (strings, prefix length, tail length).
_SHAPES = {"easy": ((3, 3), (1, 3), (1, 3)), "medium": ((3, 5), (3, 6), (2, 6)), "hard": ((5, 8), (5, 9), (4, 10))}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    (count_low, count_high), (prefix_low, prefix_high), (tail_low, tail_high) = _SHAPES[difficulty]
    alphabet = _LETTERS[:rng.randint(2, 6)]
    prefix = "".join(rng.choice(alphabet) for _ in range(rng.randint(prefix_low, prefix_high)))
    strings = []
    for _ in range(rng.randint(count_low, count_high)):
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randint(tail_low, tail_high)))
        strings.append(prefix + tail)
    # The common prefix is the drawn one: the tails' first letters do not all agree.
    at = len(prefix)
    if len({text[at] for text in strings}) == 1:
        strings[-1] = prefix + rng.choice(alphabet.replace(strings[-1][at], "")) + strings[-1][at + 1:]
    if rng.random() < 0.3:  # one string cut short inside the prefix
        i = rng.randrange(len(strings))
        strings[i] = strings[i][:rng.randint(0, len(prefix))]
    route = "peek" if rng.random() < PEEK_SHARE else "fold"
    return "LongestCommonPrefixShortcutEnv@" + json.dumps({"strings": strings, "route": route})
