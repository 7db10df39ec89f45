"""Check that a bracket string is properly nested, with a stateful stack of open brackets."""

import json
import random

TASK_DESCRIPTION = """A string consists only of the characters ( ) [ ] { }. It is balanced when every opening bracket is
closed by the matching kind, in the right order, and nothing is left open or closed too often.
Report whether the string is balanced (true or false).

Example: "([]{})" -> answer true."""


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


class ValidBracketsEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetChar": {"index": "int"},
        "IsOpening": {"char": "str"},
        "MatchingOpener": {"char": "str"},
        "PushChar": {"char": "str"},
        "PopChar": {},
        "StackSize": {},
        "Done": {"answer": "bool"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetChar": 1,
            "IsOpening": 2,
            "MatchingOpener": 3,
            "PushChar": 4,
            "PopChar": 5,
            "StackSize": 6,
            "Done": 7,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "ValidBracketsEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return ValidBracketsEnv(env_str=env_str)

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
        self.text = str(options.get("text", "()"))
        self.stack = []
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        pairs = {")": "(", "]": "[", "}": "{"}
        stack = []
        for ch in self.text:
            if ch in "([{":
                stack.append(ch)
            elif not stack or stack.pop() != pairs[ch]:
                return False
        return not stack

    def Observe(self):
        r"""
        Show the string length (the characters stay hidden).

        Args:
            None

        Returns:
            str: JSON with "length".

        Example Output:
            "{\"length\": 6}"
        """
        return json.dumps({"length": len(self.text)})

    def GetChar(self, index):
        r"""
        Read one character of the string.

        Args:
            index (int): Position, 0-based.

        Returns:
            str: The character.

        Example Output:
            "["
        """
        if not 0 <= index < len(self.text):
            raise ValueError(f"index {index} is outside 0..{len(self.text) - 1}")
        return self.text[index]

    def IsOpening(self, char):
        r"""
        Tell whether a character is an opening bracket.

        Args:
            char (str): One bracket character.

        Returns:
            str: "true" or "false".

        Example Output:
            "true"
        """
        return json.dumps(char in ("(", "[", "{"))

    def MatchingOpener(self, char):
        r"""
        The opening bracket that a closing bracket pairs with.

        Args:
            char (str): A closing bracket.

        Returns:
            str: The opening bracket.

        Example Output:
            "("
        """
        pairs = {")": "(", "]": "[", "}": "{"}
        if char not in pairs:
            raise ValueError(f"{char!r} is not a closing bracket")
        return pairs[char]

    def PushChar(self, char):
        r"""
        Push a character on top of the stack.

        Args:
            char (str): The character to push.

        Returns:
            str: The new stack size.

        Example Output:
            "2"
        """
        self.stack.append(char)
        return str(len(self.stack))

    def PopChar(self):
        r"""
        Remove and return the character on top of the stack.

        Args:
            None

        Returns:
            str: The removed character, or "empty" if the stack is empty.

        Example Output:
            "("
        """
        return self.stack.pop() if self.stack else "empty"

    def StackSize(self):
        r"""
        Show how many characters the stack holds.

        Args:
            None

        Returns:
            str: The size.

        Example Output:
            "0"
        """
        return str(len(self.stack))

    def Done(self, answer):
        r"""
        Submit whether the string is balanced.

        Args:
            answer (bool): Whether the string is balanced.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: True, Reference answer: True, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        n = json.loads(call("Observe"))["length"]
        ok = True
        for i in range(n):
            ch = call("GetChar", index=i)
            if call("IsOpening", char=ch) == "true":
                call("PushChar", char=ch)
            elif call("PopChar") != call("MatchingOpener", char=ch):
                ok = False
                break
        if ok:
            ok = call("StackSize") == "0"
        return call("Done", answer=ok)


_SIZES = {"easy": (2, 5), "medium": (8, 18), "hard": (20, 35)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    pairs = rng.randint(low, high)
    out, stack = [], []
    while pairs or stack:
        if pairs and (not stack or rng.random() < 0.55):
            ch = rng.choice("([{")
            out.append(ch)
            stack.append({"(": ")", "[": "]", "{": "}"}[ch])
            pairs -= 1
        else:
            out.append(stack.pop())
    if rng.random() < 0.5:
        # Break the string near its end so the scan stays long.
        i = rng.randrange(len(out) * 2 // 3, len(out))
        kind = rng.randint(0, 2)
        if kind == 0:
            out[i] = {"(": "[", "[": "{", "{": "(", ")": "]", "]": "}", "}": ")"}[out[i]]
        elif kind == 1:
            del out[i]
        else:
            out.insert(i, rng.choice("([{"))
    return "ValidBracketsEnv@" + json.dumps({"text": "".join(out)})
