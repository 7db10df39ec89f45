"""How many anagram groups a hidden word list forms."""

import json
import random
import string

TASK_DESCRIPTION = """A hidden list of lower-case words is split into groups so that two words share a
group exactly when one is a rearrangement of the other's letters (same letters, same counts). Only the
number of words is visible at first; words are read by index. Report the number of groups.

Example: ["eat", "tea", "tan", "ate", "nat", "bat"] -> answer 3."""


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


class GroupAnagramsEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetWord": {"index": "int"},
        "SortLetters": {"word": "str"},
        "AddToGroup": {"key": "str", "index": "int"},
        "GroupSize": {"key": "str"},
        "CountGroups": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetWord": 1,
            "SortLetters": 2,
            "AddToGroup": 3,
            "GroupSize": 4,
            "CountGroups": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "GroupAnagramsEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return GroupAnagramsEnv(env_str=env_str)

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
        self.words = [str(w) for w in options.get("words", [])]
        self.groups = {}
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        return len({tuple(sorted(word)) for word in self.words})

    def Observe(self):
        r"""
        Show the number of words and the number of groups in the table.

        Args:
            None

        Returns:
            str: JSON with "words" and "groups".

        Example Output:
            "{\"words\": 6, \"groups\": 0}"
        """
        return json.dumps({"words": len(self.words), "groups": len(self.groups)})

    def GetWord(self, index):
        r"""
        Read the word at an index.

        Args:
            index (int): Position in the list, from 0.

        Returns:
            str: The word.

        Example Output:
            "tea"
        """
        if not 0 <= index < len(self.words):
            raise ValueError(f"index {index} is outside 0..{len(self.words) - 1}")
        return self.words[index]

    def SortLetters(self, word):
        r"""
        Return the letters of a word in alphabetical order.

        Args:
            word (str): Any word.

        Returns:
            str: The sorted letters.

        Example Output:
            "aet"
        """
        return "".join(sorted(word))

    def AddToGroup(self, key, index):
        r"""
        File the word at an index under a key in the group table (each word may be filed once).

        Args:
            key (str): The group key.
            index (int): Position of the word in the list.

        Returns:
            str: JSON with the group's "size" afterwards and whether the key was "new".

        Example Output:
            "{\"size\": 2, \"new\": false}"
        """
        if not 0 <= index < len(self.words):
            raise ValueError(f"index {index} is outside 0..{len(self.words) - 1}")
        if any(index in members for members in self.groups.values()):
            raise ValueError(f"word {index} is already filed")
        new = key not in self.groups
        self.groups.setdefault(key, []).append(index)
        return json.dumps({"size": len(self.groups[key]), "new": new})

    def GroupSize(self, key):
        r"""
        Count the words filed under a key.

        Args:
            key (str): The group key.

        Returns:
            str: The number of words (0 for an unknown key).

        Example Output:
            "3"
        """
        return str(len(self.groups.get(key, [])))

    def CountGroups(self):
        r"""
        Count the keys in the group table.

        Args:
            None

        Returns:
            str: The number of groups.

        Example Output:
            "3"
        """
        return str(len(self.groups))

    def Done(self, answer):
        r"""
        Submit the number of anagram groups.

        Args:
            answer (int): The number of groups.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 3, Reference answer: 3, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        count = json.loads(call("Observe"))["words"]
        for index in range(count):
            word = call("GetWord", index=index)
            call("AddToGroup", key=call("SortLetters", word=word), index=index)
        return call("Done", answer=int(call("CountGroups")))


_SIZES = {"easy": (3, 10), "medium": (13, 38), "hard": (35, 80)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    count = rng.randint(low, high)
    bases = ["".join(rng.choice(string.ascii_lowercase[:8]) for _ in range(rng.randint(2, 6)))
             for _ in range(rng.randint(1, max(1, count // 2)))]
    words = []
    for _ in range(count):
        letters = list(rng.choice(bases))
        rng.shuffle(letters)
        words.append("".join(letters))
    return "GroupAnagramsEnv@" + json.dumps({"words": words})
