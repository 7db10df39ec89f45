"""Course schedule: how many courses can be completed given prerequisite pairs (some may form cycles)."""

import json
import random

TASK_DESCRIPTION = """There are n courses numbered 0..n-1 and a list of prerequisite pairs [a, b] meaning
course b must be finished before course a can be taken. Courses whose prerequisites form a cycle (or
depend on such a course) can never be taken. Only the course count and pair count are visible at
first; the environment keeps track of which courses you have taken. Report how many courses can be
completed in total.

Example: n = 4, prerequisites [[1, 0], [2, 1], [3, 3]] -> answer 3 (course 3 requires itself)."""


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


class CourseScheduleEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetDependents": {"course": "int"},
        "RemainingPrerequisites": {"course": "int"},
        "ReadyCourses": {},
        "TakeCourse": {"course": "int"},
        "TakenCount": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetDependents": 1,
            "RemainingPrerequisites": 2,
            "ReadyCourses": 3,
            "TakeCourse": 4,
            "TakenCount": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "CourseScheduleEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return CourseScheduleEnv(env_str=env_str)

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
        self.n = int(options.get("n", 0))
        self.prerequisites = [list(p) for p in options.get("prerequisites", [])]
        self.dependents = {c: [] for c in range(self.n)}
        self.remaining = {c: 0 for c in range(self.n)}
        for course, before in self.prerequisites:
            self.dependents[before].append(course)
            self.remaining[course] += 1
        self.taken = set()
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        indegree = {c: 0 for c in range(self.n)}
        for course, _ in self.prerequisites:
            indegree[course] += 1
        ready = [c for c in range(self.n) if indegree[c] == 0]
        done = 0
        while ready:
            c = ready.pop()
            done += 1
            for course, before in self.prerequisites:
                if before == c:
                    indegree[course] -= 1
                    if indegree[course] == 0:
                        ready.append(course)
        return done

    def _check_course(self, course):
        if not 0 <= course < self.n:
            raise ValueError(f"course {course} is outside 0..{self.n - 1}")

    def Observe(self):
        r"""
        Show the number of courses, the number of prerequisite pairs and how many courses are taken.

        Args:
            None

        Returns:
            str: JSON with "courses", "pairs" and "taken".

        Example Output:
            "{\"courses\": 4, \"pairs\": 3, \"taken\": 0}"
        """
        return json.dumps({"courses": self.n, "pairs": len(self.prerequisites), "taken": len(self.taken)})

    def GetDependents(self, course):
        r"""
        List the courses that name this course as a prerequisite (one entry per pair).

        Args:
            course (int): The course to look at.

        Returns:
            str: JSON list of course numbers, in increasing order.

        Example Output:
            "[1, 3]"
        """
        self._check_course(course)
        return json.dumps(sorted(self.dependents[course]))

    def RemainingPrerequisites(self, course):
        r"""
        Count the prerequisite pairs of a course whose required course has not been taken yet.

        Args:
            course (int): The course to look at.

        Returns:
            str: The number of unmet prerequisite pairs.

        Example Output:
            "1"
        """
        self._check_course(course)
        return str(self.remaining[course])

    def ReadyCourses(self):
        r"""
        List the courses not yet taken whose prerequisites are all met.

        Args:
            None

        Returns:
            str: JSON list of course numbers, in increasing order.

        Example Output:
            "[0, 2]"
        """
        ready = [c for c in range(self.n) if c not in self.taken and self.remaining[c] == 0]
        return json.dumps(ready)

    def TakeCourse(self, course):
        r"""
        Take a course whose prerequisites are all met; this satisfies the pairs that require it.

        Args:
            course (int): The course to take.

        Returns:
            str: JSON list of courses that became ready because of this, in increasing order.

        Example Output:
            "[1]"
        """
        self._check_course(course)
        if course in self.taken:
            raise ValueError(f"course {course} is already taken")
        if self.remaining[course] > 0:
            raise ValueError(f"course {course} still has {self.remaining[course]} unmet prerequisite(s)")
        self.taken.add(course)
        unlocked = set()
        for other in self.dependents[course]:
            self.remaining[other] -= 1
            if self.remaining[other] == 0 and other not in self.taken:
                unlocked.add(other)
        return json.dumps(sorted(unlocked))

    def TakenCount(self):
        r"""
        Count the courses taken so far.

        Args:
            None

        Returns:
            str: The number of taken courses.

        Example Output:
            "3"
        """
        return str(len(self.taken))

    def Done(self, answer):
        r"""
        Submit how many courses can be completed.

        Args:
            answer (int): The number of courses that can be completed.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 3, Reference answer: 3, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        json.loads(call("Observe"))
        queue = json.loads(call("ReadyCourses"))
        while queue:
            course = queue.pop(0)
            queue.extend(json.loads(call("TakeCourse", course=course)))
        return call("Done", answer=int(call("TakenCount")))


_SIZES = {"easy": (8, 25), "medium": (40, 100), "hard": (110, 230)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    n = rng.randint(low, high)
    order = list(range(n))
    rng.shuffle(order)
    pairs = set()
    for position in range(1, n):
        for _ in range(rng.randint(0, 2)):
            before = order[rng.randrange(position)]
            pairs.add((order[position], before))
    if rng.random() < 0.5:  # a back edge makes a cycle, so some courses cannot be finished
        i, j = sorted(rng.sample(range(n), 2))
        pairs.add((order[i], order[j]))
    pairs = sorted(pairs)
    rng.shuffle(pairs)
    return "CourseScheduleEnv@" + json.dumps({"n": n, "prerequisites": [list(p) for p in pairs]})
