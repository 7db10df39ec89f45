"""Count the connected components of a hidden undirected graph by exploring it node by node."""

import json
import random

TASK_DESCRIPTION = """An undirected graph has nodes numbered 0..n-1. Only the number of nodes is visible
at first; a node's neighbours are revealed one node at a time, and the environment keeps a set of
nodes you have marked as visited. Report how many connected components the graph has (an isolated
node is a component by itself).

Example: n = 5 with edges 0-1, 1-2 and 3-4 -> answer 2."""


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


class ConnectedComponentsEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetNeighbors": {"node": "int"},
        "MarkVisited": {"node": "int"},
        "NextUnvisited": {},
        "VisitedCount": {},
        "IsVisited": {"node": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetNeighbors": 1,
            "MarkVisited": 2,
            "NextUnvisited": 3,
            "VisitedCount": 4,
            "IsVisited": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "ConnectedComponentsEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return ConnectedComponentsEnv(env_str=env_str)

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
        self.edges = [list(e) for e in options.get("edges", [])]
        self.adjacency = {node: [] for node in range(self.n)}
        for a, b in self.edges:
            self.adjacency[a].append(b)
            self.adjacency[b].append(a)
        self.visited = set()
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        parent = list(range(self.n))

        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        components = self.n
        for a, b in self.edges:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
                components -= 1
        return components

    def _check_node(self, node):
        if not 0 <= node < self.n:
            raise ValueError(f"node {node} is outside 0..{self.n - 1}")

    def Observe(self):
        r"""
        Show the number of nodes and how many are marked visited so far.

        Args:
            None

        Returns:
            str: JSON with "nodes" and "visited".

        Example Output:
            "{\"nodes\": 5, \"visited\": 0}"
        """
        return json.dumps({"nodes": self.n, "visited": len(self.visited)})

    def GetNeighbors(self, node):
        r"""
        List the nodes directly connected to a node, in increasing order.

        Args:
            node (int): The node to look at.

        Returns:
            str: JSON list of neighbouring node numbers.

        Example Output:
            "[0, 2]"
        """
        self._check_node(node)
        return json.dumps(sorted(self.adjacency[node]))

    def MarkVisited(self, node):
        r"""
        Add a node to the visited set.

        Args:
            node (int): The node to mark.

        Returns:
            str: "newly visited" if the node was not in the set before, otherwise "already visited".

        Example Output:
            "newly visited"
        """
        self._check_node(node)
        if node in self.visited:
            return "already visited"
        self.visited.add(node)
        return "newly visited"

    def NextUnvisited(self):
        r"""
        Find the smallest node number that is not in the visited set.

        Args:
            None

        Returns:
            str: The node number, or -1 when every node is visited.

        Example Output:
            "3"
        """
        for node in range(self.n):
            if node not in self.visited:
                return str(node)
        return "-1"

    def VisitedCount(self):
        r"""
        Count the nodes in the visited set.

        Args:
            None

        Returns:
            str: The number of visited nodes.

        Example Output:
            "4"
        """
        return str(len(self.visited))

    def IsVisited(self, node):
        r"""
        Tell whether a node is in the visited set.

        Args:
            node (int): The node to check.

        Returns:
            str: "true" or "false".

        Example Output:
            "false"
        """
        self._check_node(node)
        return json.dumps(node in self.visited)

    def Done(self, answer):
        r"""
        Submit the number of connected components.

        Args:
            answer (int): The number of connected components.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 2, Reference answer: 2, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        json.loads(call("Observe"))
        components = 0
        while True:
            start = int(call("NextUnvisited"))
            if start == -1:
                break
            components += 1
            call("MarkVisited", node=start)
            seen, stack = {start}, [start]
            while stack:
                node = stack.pop()
                for other in json.loads(call("GetNeighbors", node=node)):
                    if other not in seen:
                        seen.add(other)
                        call("MarkVisited", node=other)
                        stack.append(other)
        return call("Done", answer=components)


_SIZES = {"easy": (5, 9), "medium": (18, 40), "hard": (60, 105)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    n = rng.randint(low, high)
    groups = rng.randint(1, max(2, n // 4))
    label = [rng.randrange(groups) for _ in range(n)]
    edges = set()
    for node in range(1, n):
        same = [other for other in range(node) if label[other] == label[node]]
        if same and rng.random() < 0.85:
            edges.add((rng.choice(same), node))
    for _ in range(n // 3):
        a, b = rng.sample(range(n), 2)
        if label[a] == label[b]:
            edges.add((min(a, b), max(a, b)))
    edges = sorted(edges)
    rng.shuffle(edges)
    return "ConnectedComponentsEnv@" + json.dumps({"n": n, "edges": [list(e) for e in edges]})
