"""Shortest path length between two nodes of a hidden weighted graph, with a stateful frontier."""

import heapq
import json
import random

TASK_DESCRIPTION = """A weighted undirected graph has nodes 0..n-1 and positive integer edge weights.
You know the node count, a source and a target; a node's edges are revealed one node at a time.
Report the length of the shortest path from source to target, or -1 if the target cannot be
reached.

Example: n = 3, edges [[0, 1, 4], [1, 2, 1], [0, 2, 7]], source 0, target 2 -> answer 5."""


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


class DijkstraShortestPathEnv:
    # Each tool's parameters and their kinds; step() checks both before the tool runs.
    _PARAM_TYPES = {
        "Observe": {},
        "GetEdges": {"node": "int"},
        "Relax": {"node": "int", "distance": "int"},
        "PopClosest": {},
        "TentativeDistance": {"node": "int"},
        "IsSettled": {"node": "int"},
        "Done": {"answer": "int"},
    }

    def __init__(self, env_str=None):
        self.func_mapping = {
            "Observe": 0,
            "GetEdges": 1,
            "Relax": 2,
            "PopClosest": 3,
            "TentativeDistance": 4,
            "IsSettled": 5,
            "Done": 6,
        }
        options = {}
        if env_str is not None:
            options = json.loads(env_str.split("@", 1)[1])
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        prefix = "DijkstraShortestPathEnv@"
        if not isinstance(env_str, str) or not env_str.startswith(prefix):
            return None
        return DijkstraShortestPathEnv(env_str=env_str)

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
        self.source = int(options.get("source", 0))
        self.target = int(options.get("target", 0))
        self.adjacency = {node: [] for node in range(self.n)}
        for a, b, w in self.edges:
            self.adjacency[a].append([b, w])
            self.adjacency[b].append([a, w])
        self.tentative = {}
        self.settled = set()
        self.step_count = 0
        self._reward = 0
        self._done = False
        return "Environment has been reset."

    def get_ref_answer(self):
        best = {self.source: 0}
        heap = [(0, self.source)]
        while heap:
            dist, node = heapq.heappop(heap)
            if dist > best.get(node, dist):
                continue
            if node == self.target:
                return dist
            for other, weight in self.adjacency[node]:
                if dist + weight < best.get(other, float("inf")):
                    best[other] = dist + weight
                    heapq.heappush(heap, (dist + weight, other))
        return -1

    def _check_node(self, node):
        if not 0 <= node < self.n:
            raise ValueError(f"node {node} is outside 0..{self.n - 1}")

    def Observe(self):
        r"""
        Show the node count, the source and the target.

        Args:
            None

        Returns:
            str: JSON with "nodes", "source" and "target".

        Example Output:
            "{\"nodes\": 3, \"source\": 0, \"target\": 2}"
        """
        return json.dumps({"nodes": self.n, "source": self.source, "target": self.target})

    def GetEdges(self, node):
        r"""
        List the edges at a node as [neighbour, weight] pairs, sorted by neighbour.

        Args:
            node (int): The node to look at.

        Returns:
            str: JSON list of [neighbour, weight] pairs.

        Example Output:
            "[[1, 4], [2, 7]]"
        """
        self._check_node(node)
        return json.dumps(sorted(self.adjacency[node]))

    def Relax(self, node, distance):
        r"""
        Offer a tentative distance for a node not yet taken from the frontier; it is kept if lower
        than the current one.

        Args:
            node (int): The node.
            distance (int): The offered distance (>= 0).

        Returns:
            str: JSON with "improved" (bool) and the node's "distance" after the offer.

        Example Output:
            "{\"improved\": true, \"distance\": 4}"
        """
        self._check_node(node)
        if distance < 0:
            raise ValueError(f"distance must be >= 0, got {distance}")
        if node in self.settled:
            return json.dumps({"improved": False, "distance": self.tentative[node]})
        improved = distance < self.tentative.get(node, float("inf"))
        if improved:
            self.tentative[node] = distance
        return json.dumps({"improved": improved, "distance": self.tentative[node]})

    def PopClosest(self):
        r"""
        Take the frontier node with the smallest tentative distance (ties: smaller node number) and
        mark it settled.

        Args:
            None

        Returns:
            str: JSON with "node" and "distance", or {"node": -1, "distance": -1} when the frontier is empty.

        Example Output:
            "{\"node\": 1, \"distance\": 4}"
        """
        open_nodes = [(d, node) for node, d in self.tentative.items() if node not in self.settled]
        if not open_nodes:
            return json.dumps({"node": -1, "distance": -1})
        dist, node = min(open_nodes)
        self.settled.add(node)
        return json.dumps({"node": node, "distance": dist})

    def TentativeDistance(self, node):
        r"""
        Read a node's current tentative distance.

        Args:
            node (int): The node.

        Returns:
            str: The distance, or -1 if the node has never been offered one.

        Example Output:
            "5"
        """
        self._check_node(node)
        return str(self.tentative.get(node, -1))

    def IsSettled(self, node):
        r"""
        Tell whether a node has already been taken from the frontier.

        Args:
            node (int): The node to check.

        Returns:
            str: "true" or "false".

        Example Output:
            "true"
        """
        self._check_node(node)
        return json.dumps(node in self.settled)

    def Done(self, answer):
        r"""
        Submit the shortest distance from source to target.

        Args:
            answer (int): The shortest path length, or -1 if the target is unreachable.

        Returns:
            str: The verdict with the reference answer and the reward.

        Example Output:
            "Your answer: 5, Reference answer: 5, Result: Correct, reward=1"
        """
        return self._grade(answer, self.get_ref_answer())

    def solve(self):
        """Oracle: solve the instance through self.step() alone and submit the answer."""
        call = lambda name, **params: self.step(json.dumps({"name": name, "parameters": params}))[1]
        info = json.loads(call("Observe"))
        call("Relax", node=info["source"], distance=0)
        settled, answer = set(), -1
        while True:
            popped = json.loads(call("PopClosest"))
            node, dist = popped["node"], popped["distance"]
            if node == -1:
                break
            if node == info["target"]:
                answer = dist
                break
            settled.add(node)
            for other, weight in json.loads(call("GetEdges", node=node)):
                if other not in settled:
                    call("Relax", node=other, distance=dist + weight)
        return call("Done", answer=answer)


_SIZES = {"easy": (4, 7), "medium": (12, 22), "hard": (30, 48)}


def generate(seed: int, difficulty: str) -> str:
    rng = random.Random(seed)
    low, high = _SIZES[difficulty]
    n = rng.randint(low, high)
    edges = {}
    for node in range(1, n):
        if rng.random() < 0.93:
            edges[(rng.randrange(node), node)] = rng.randint(1, 20)
    for _ in range(n // 2):
        a, b = sorted(rng.sample(range(n), 2))
        edges.setdefault((a, b), rng.randint(1, 20))
    edge_list = [[a, b, w] for (a, b), w in edges.items()]
    rng.shuffle(edge_list)
    source = rng.randrange(n)
    # Far targets make the search visit most of the graph; unreachable ones test the -1 answer.
    probe = DijkstraShortestPathEnv()
    probe.reset({"n": n, "edges": edge_list, "source": source, "target": source})
    distances = []
    for node in range(n):
        probe.target = node
        distances.append((probe.get_ref_answer(), node))
    unreachable = [node for d, node in distances if d == -1]
    reachable = sorted(item for item in distances if item[0] > 0)
    if unreachable and (rng.random() < 0.3 or not reachable):
        target = rng.choice(unreachable)
    else:
        target = rng.choice(reachable[len(reachable) // 2:])[1]
    return "DijkstraShortestPathEnv@" + json.dumps(
        {"n": n, "edges": edge_list, "source": source, "target": target})
