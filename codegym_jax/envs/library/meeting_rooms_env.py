"""Minimum number of meeting rooms, using a stateful pool of room end times."""

import heapq
import json
import random

TASK_DESCRIPTION = """A hidden list of meetings is given as [start, end) time pairs; a meeting that ends at
time t frees its room for a meeting starting at t. Only the number of meetings is visible at first;
meetings are read by index. Report the smallest number of rooms that lets every meeting take place.

Example: [[0, 30], [5, 10], [15, 20]] -> answer 2."""


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


class MeetingRoomsEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "SortByStart": {},
        "GetMeeting": {"index": "int"},
        "EarliestFreeTime": {},
        "ReleaseEarliest": {},
        "OccupyRoom": {"until": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "SortByStart": 1,
            "GetMeeting": 2,
            "EarliestFreeTime": 3,
            "ReleaseEarliest": 4,
            "OccupyRoom": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "MeetingRoomsEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return MeetingRoomsEnv(env_str=env_str)

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
        self.meetings = [list(m) for m in options.get("meetings", [])]
        self.room_ends = []
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        events = []
        for start, end in self.meetings:
            events.append((start, 1))
            events.append((end, -1))
        busy = best = 0
        for _, delta in sorted(events):
            busy += delta
            best = max(best, busy)
        return best

    def Observe(self):
        r"""
        Show the number of meetings and the number of rooms currently in the pool.

        Args:
            None

        Returns:
            str: JSON with "meetings" and "rooms_in_use".

        Example Output:
            "{\"meetings\": 3, \"rooms_in_use\": 0}"
        """
        return json.dumps({"meetings": len(self.meetings), "rooms_in_use": len(self.room_ends)})

    def SortByStart(self):
        r"""
        Sort the hidden meeting list by start time (then end time).

        Args:
            None

        Returns:
            str: A confirmation message.

        Example Output:
            "Meetings sorted by start time."
        """
        self.meetings.sort()
        return "Meetings sorted by start time."

    def GetMeeting(self, index):
        r"""
        Read the meeting at an index of the hidden list.

        Args:
            index (int): Position in the list, from 0.

        Returns:
            str: JSON [start, end].

        Example Output:
            "[5, 10]"
        """
        if not 0 <= index < len(self.meetings):
            raise ValueError(f"index {index} is outside 0..{len(self.meetings) - 1}")
        return json.dumps(self.meetings[index])

    def EarliestFreeTime(self):
        r"""
        Look at the room in the pool that becomes free first.

        Args:
            None

        Returns:
            str: That room's free time, or -1 if the pool is empty.

        Example Output:
            "10"
        """
        return str(self.room_ends[0]) if self.room_ends else "-1"

    def ReleaseEarliest(self):
        r"""
        Remove the room that becomes free first from the pool, so it can be reused.

        Args:
            None

        Returns:
            str: The free time of the removed room.

        Example Output:
            "10"
        """
        if not self.room_ends:
            raise ValueError("the room pool is empty")
        return str(heapq.heappop(self.room_ends))

    def OccupyRoom(self, until):
        r"""
        Put a room into the pool that is busy until the given time.

        Args:
            until (int): The time the room becomes free.

        Returns:
            str: The number of rooms in the pool afterwards.

        Example Output:
            "2"
        """
        heapq.heappush(self.room_ends, until)
        return str(len(self.room_ends))

    def Done(self, answer):
        r"""
        Submit the minimum number of rooms.

        Args:
            answer (int): The number of rooms needed.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 2, Reference answer: 2, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        count = json.loads(call("Observe"))["meetings"]
        call("SortByStart")
        rooms = 0
        for index in range(count):
            start, end = json.loads(call("GetMeeting", index=index))
            earliest = int(call("EarliestFreeTime"))
            if earliest != -1 and earliest <= start:
                call("ReleaseEarliest")
            rooms = max(rooms, int(call("OccupyRoom", until=end)))
        return call("Done", answer=rooms)


_SIZES = {"easy": (3, 8), "medium": (12, 30), "hard": (35, 60)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    count = rng.randint(low, high)
    horizon = count * rng.randint(4, 10)
    meetings = []
    for _ in range(count):
        start = rng.randint(0, horizon)
        meetings.append([start, start + rng.randint(1, 25)])
    return "MeetingRoomsEnv@" + json.dumps({"meetings": meetings})
