"""Simulate a bank queue served by several tellers and total the customers' waiting time."""

import json
import random

TASK_DESCRIPTION = """Customers arrive at a bank at known times, each needing a known number of minutes
of service, and wait in one first-come-first-served line. There are several tellers; whenever a
teller is free and someone is waiting, the customer at the head of the line goes to the teller that
became free first (ties: the lowest teller number). A customer's waiting time is the time between
arriving and starting service. Report the total waiting time of all customers. The number of tellers
and customers is visible; customers are inspected by index and served through tools that keep the
bank's clock.

Example: 1 teller, customers (arrival, service) = (0, 5), (1, 3), (2, 1) -> they start at 0, 5 and
8 -> waits 0 + 4 + 6 -> answer 10."""


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


class BankQueueEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetCustomer": {"index": "int"},
        "EarliestFreeTeller": {},
        "ServeNext": {"teller": "int"},
        "Clock": {},
        "TotalWait": {},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetCustomer": 1,
            "EarliestFreeTeller": 2,
            "ServeNext": 3,
            "Clock": 4,
            "TotalWait": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "BankQueueEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return BankQueueEnv(env_str=env_str)

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
        self.tellers = int(options.get("tellers", 1))
        self.customers = [list(c) for c in options.get("customers", [])]
        self.free_at = [0] * self.tellers
        self.next_customer = 0
        self.clock = 0
        self.total_wait = 0
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        free_at = [0] * self.tellers
        total = 0
        for arrival, service in self.customers:
            teller = min(range(self.tellers), key=lambda t: (free_at[t], t))
            start = max(arrival, free_at[teller])
            total += start - arrival
            free_at[teller] = start + service
        return total

    def Observe(self):
        r"""
        Show the number of tellers, the number of customers and how many have been served.

        Args:
            None

        Returns:
            str: JSON with "tellers", "customers" and "served".

        Example Output:
            "{\"tellers\": 1, \"customers\": 3, \"served\": 0}"
        """
        return json.dumps({"tellers": self.tellers, "customers": len(self.customers),
                           "served": self.next_customer})

    def GetCustomer(self, index):
        r"""
        Read a customer's arrival time and service length (customers are in arrival order).

        Args:
            index (int): Customer number, from 0.

        Returns:
            str: JSON [arrival, service].

        Example Output:
            "[1, 3]"
        """
        if not 0 <= index < len(self.customers):
            raise ValueError(f"index {index} is outside 0..{len(self.customers) - 1}")
        return json.dumps(self.customers[index])

    def EarliestFreeTeller(self):
        r"""
        Find the teller that becomes free first (ties: lowest number).

        Args:
            None

        Returns:
            str: JSON with "teller" and "free_at".

        Example Output:
            "{\"teller\": 0, \"free_at\": 5}"
        """
        teller = min(range(self.tellers), key=lambda t: (self.free_at[t], t))
        return json.dumps({"teller": teller, "free_at": self.free_at[teller]})

    def ServeNext(self, teller):
        r"""
        Send the customer at the head of the line to a teller. Service starts when both the customer
        has arrived and the teller is free; the clock moves to that start time.

        Args:
            teller (int): Teller number, from 0.

        Returns:
            str: JSON with the "customer" served, its "start", "end" and "wait".

        Example Output:
            "{\"customer\": 1, \"start\": 5, \"end\": 8, \"wait\": 4}"
        """
        if not 0 <= teller < self.tellers:
            raise ValueError(f"teller {teller} is outside 0..{self.tellers - 1}")
        if self.next_customer >= len(self.customers):
            raise ValueError("nobody is waiting")
        arrival, service = self.customers[self.next_customer]
        start = max(arrival, self.free_at[teller])
        self.free_at[teller] = start + service
        self.clock = max(self.clock, start)
        self.total_wait += start - arrival
        served = {"customer": self.next_customer, "start": start, "end": start + service,
                  "wait": start - arrival}
        self.next_customer += 1
        return json.dumps(served)

    def Clock(self):
        r"""
        Read the bank's clock (the latest service start so far).

        Args:
            None

        Returns:
            str: The clock time.

        Example Output:
            "8"
        """
        return str(self.clock)

    def TotalWait(self):
        r"""
        Sum of the waiting times of the customers served so far.

        Args:
            None

        Returns:
            str: The total waiting time.

        Example Output:
            "10"
        """
        return str(self.total_wait)

    def Done(self, answer):
        r"""
        Submit the total waiting time.

        Args:
            answer (int): The sum of all customers' waiting times.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 10, Reference answer: 10, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        count = json.loads(call("Observe"))["customers"]
        for _ in range(count):
            teller = json.loads(call("EarliestFreeTeller"))["teller"]
            call("ServeNext", teller=teller)
        return call("Done", answer=int(call("TotalWait")))


_SIZES = {"easy": (5, 18), "medium": (20, 58), "hard": (55, 120)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    count = rng.randint(low, high)
    tellers = rng.randint(1, 4)
    arrival, customers = 0, []
    for _ in range(count):
        arrival += rng.randint(0, 6)
        customers.append([arrival, rng.randint(1, 6 * tellers)])
    return "BankQueueEnv@" + json.dumps({"tellers": tellers, "customers": customers})
