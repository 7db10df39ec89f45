"""A scripted stand-in for a model, served over the real OpenAI protocol on loopback, for BFCL.

`scripted_server(categories)` serves `GET /v1/models` and `POST /v1/completions` (FastAPI and
uvicorn in a background thread, on a free port) and yields the base URL. Each completion answers
the BFCL prompt in it with BFCL's own ground truth, in the markup of bfcl's Qwen FC handler:
`<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>` per call, each parameter at its
first acceptable value, parameters that may be omitted ("" among their values) omitted. The
entry is found by the prompt's first user message (and, single-turn, its tool names; multi-turn,
its later user messages). Java and JavaScript values are written as the source text bfcl's type
converters parse; irrelevance entries and finished multi-turn turns get a plain-text reply.
`wrong=True` answers every question with a call to a function no entry has.

The data is the installed harness's own (`.venv-bfcl`'s bfcl_eval/data). Served one category at a
time, every entry of every offline category grades correct, except two of simple_java's (36 and
65: their ArrayList items are typed `any`, which bfcl's converter turns into strings, while the
ground truth holds ints and booleans). The multi-turn categories share opening turns whose
answers differ (base, miss_param and long_context especially); served together, such a prompt
gets the answer of the category listed first, so serve them separately for exact answers.
"""
from __future__ import annotations

import ast
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from codegym_jax.bfcl_harness import bfcl_data_dir

WRONG_CALL = '<tool_call>\n{"name": "no_such_function_anywhere", "arguments": {}}\n</tool_call>'
NO_CALL = "I cannot help with that using the functions I have."
TURN_DONE = "Done."
LANGUAGE = {"simple_java": "java", "simple_javascript": "javascript"}


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def first_user_text(turn: list[dict]) -> str | None:
    return next((m["content"] for m in turn if m["role"] == "user"), None)


def load_entries(data_dir: Path, categories: list[str]) -> dict[str, list[dict]]:
    """{first user message: [entry, ...]} over the categories, each entry with its answers."""
    by_question: dict[str, list[dict]] = {}
    for category in categories:
        answers = {}
        answer_file = data_dir / "possible_answer" / f"BFCL_v4_{category}.json"
        if answer_file.exists():  # irrelevance has none: the right answer is no call
            answers = {row["id"]: row["ground_truth"] for row in load_jsonl(answer_file)}
        for entry in load_jsonl(data_dir / f"BFCL_v4_{category}.json"):
            entry["category"], entry["answer"] = category, answers.get(entry["id"], [])
            by_question.setdefault(first_user_text(entry["question"][0]), []).append(entry)
    return by_question


def load_parameter_order(data_dir: Path) -> dict[str, list[str]]:
    """Multi-turn function name -> parameter names in order, to name positional ground truth."""
    order = {}
    for path in sorted((data_dir / "multi_turn_func_doc").glob("*.json")):
        if not path.name.startswith(("memory_", "web_search")):
            for doc in load_jsonl(path):
                order[doc["name"]] = list(doc["parameters"]["properties"])
    return order


# ------------------------------------------------------------------ reading the prompt
def prompt_messages(prompt: str) -> list[tuple[str, str]]:
    """(role, content) of each <|im_start|> block; tool results come back as role "tool"."""
    messages = []
    for block in prompt.split("<|im_start|>")[1:]:
        role, _, content = block.partition("\n")
        content = content.removesuffix("\n").removesuffix("<|im_end|>")
        if role == "user" and content.startswith("<tool_response>"):
            role = "tool"
        messages.append((role, content))
    return messages


def tool_names(prompt: str) -> set[str]:
    # The block's own lines, not the "within <tools></tools> XML tags" in the instructions.
    tools = re.search(r"\n<tools>\n(.*?)\n</tools>\n", prompt, re.DOTALL)
    return {json.loads(line)["name"] for line in tools.group(1).splitlines()} if tools else set()


def offers(prompt: str, name: str) -> bool:
    """Whether the prompt offers function `name`, in <tools> or (miss_func) a later user turn."""
    return re.search(rf"""["']name["']: ["']{re.escape(name)}["']""", prompt) is not None


# ------------------------------------------------------------------ writing the answer
def first_acceptable(values: list):
    return render(next(v for v in values if v != ""))


def render(value):
    """A ground-truth value with every nested {key: [acceptable...]} resolved to its first."""
    if isinstance(value, dict):
        return {k: first_acceptable(vs) for k, vs in value.items() if "" not in vs}
    if isinstance(value, list):
        return [render(v) for v in value]
    return value


def java_literal(value, type_: str | None = None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return f"{value}L" if type_ == "long" else f"{value}f" if type_ == "float" else str(value)


def java_source(value, spec: dict) -> str:
    """`value` as the Java source text bfcl's java_type_converter turns back into it."""
    type_, nested = spec["type"], spec.get("items", {}).get("type")
    if isinstance(value, str):  # variable names and expressions stay as written
        return value
    if isinstance(value, list):
        if type_ == "ArrayList":
            return f"new ArrayList<>(Arrays.asList({', '.join(java_literal(v, nested) for v in value)}))"
        bare = nested in ("String", "any")  # converted with str(), so no quotes
        return "new Object[]{" + ", ".join(v if bare and isinstance(v, str) else java_literal(v, nested)
                                         for v in value) + "}"
    if isinstance(value, dict):
        puts = " ".join(f'put("{k}", {java_literal(v)});' for k, v in value.items())
        return f"new HashMap<String, Object>() {{{{ {puts} }}}}"
    return java_literal(value, type_)


def js_source(value) -> str:
    """`value` as the JavaScript source text bfcl's js_type_converter turns back into it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(repr(v) if isinstance(v, str) else js_source(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {repr(v) if isinstance(v, str) else js_source(v)}"
                               for k, v in value.items()) + "}"
    return str(value)


def tool_call(name: str, arguments: dict) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def single_turn_answer(entry: dict) -> str:
    if not entry["answer"]:
        return NO_CALL
    docs = {doc["name"]: doc["parameters"] for doc in entry["function"]}
    language = LANGUAGE.get(entry["category"])
    calls = []
    for call in entry["answer"]:
        (name, params), = call.items()
        required, specs = docs[name].get("required", []), docs[name]["properties"]
        arguments = {p: first_acceptable(vs) for p, vs in params.items() if p in required or "" not in vs}
        if language == "java":
            arguments = {p: java_source(v, specs[p]) for p, v in arguments.items()}
        elif language == "javascript":
            arguments = {p: js_source(v) for p, v in arguments.items()}
        calls.append(tool_call(name, arguments))
    return "\n".join(calls)


def parse_call(source: str, order: dict[str, list[str]]) -> tuple[str, dict]:
    """A ground-truth call string like "mv(source='a', destination='b')" as (name, arguments)."""
    node = ast.parse(source, mode="eval").body
    arguments = dict(zip(order[node.func.id], (ast.literal_eval(a) for a in node.args)))
    arguments.update({k.arg: ast.literal_eval(k.value) for k in node.keywords})
    return node.func.id, arguments


def multi_turn_answer(entry: dict, users: list[str], order: dict[str, list[str]]) -> str:
    """All of the current turn's ground-truth calls, made at the turn's first step."""
    turn = len(users) - 1
    calls = entry["answer"][turn] if turn < len(entry["answer"]) else []
    return "\n".join(tool_call(*parse_call(c, order)) for c in calls) or NO_CALL


def asks_the_same(entry: dict, prompt: str, users: list[str]) -> bool:
    """Whether `entry` could have produced this prompt (its first user message already matched)."""
    if not entry["id"].startswith("multi_turn"):
        return tool_names(prompt) == {doc["name"] for doc in entry["function"]}
    turns = [first_user_text(turn) for turn in entry["question"]]
    # An empty turn is miss_func's: bfcl fills it with the held-out functions.
    return len(users) <= len(turns) and all(t is None or t == u for t, u in zip(turns, users))


def offers_its_calls(entry: dict, prompt: str, users: list[str]) -> bool:
    """Whether the prompt offers every function of the entry's answer to this turn: tells
    multi_turn_miss_func, whose answer is empty while a function is held out, from the others."""
    if not entry["id"].startswith("multi_turn"):
        return True
    turn_calls = entry["answer"][len(users) - 1] if len(users) <= len(entry["answer"]) else []
    return all(offers(prompt, re.match(r"\w+", call).group()) for call in turn_calls)


def answer(prompt: str, by_question: dict[str, list[dict]], order: dict[str, list[str]], wrong: bool) -> str:
    messages = prompt_messages(prompt)
    users = [content for role, content in messages if role == "user"]
    if not users or messages[-1] != ("assistant", ""):
        raise LookupError("not a Qwen-FC-formatted prompt ending in an open assistant turn")
    candidates = [e for e in by_question.get(users[0], []) if asks_the_same(e, prompt, users)]
    if not candidates:
        raise LookupError(f"no served BFCL entry asks {users[0][:200]!r}")
    # Some ground truth calls a function its entry holds out at that turn (miss_func_49's tail).
    entry = next((e for e in candidates if offers_its_calls(e, prompt, users)), candidates[0])
    if entry["id"].startswith("multi_turn") and messages[-2][0] != "user":
        return TURN_DONE  # the turn's calls were made and their results are in
    if wrong:
        return WRONG_CALL
    return multi_turn_answer(entry, users, order) if entry["id"].startswith("multi_turn") else (
        single_turn_answer(entry))


# ------------------------------------------------------------------ the server
def make_app(categories: list[str], wrong: bool, data_dir: Path, requests: list[dict] | None) -> FastAPI:
    by_question, order = load_entries(data_dir, categories), load_parameter_order(data_dir)
    app = FastAPI()

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error",
                                       "param": None, "code": None}}, status_code=status)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": "bfcl-scripted", "object": "model",
                                            "created": 0, "owned_by": "tests"}]}

    @app.post("/v1/completions")
    async def completions(request: Request):
        body = await request.json()
        if requests is not None:
            requests.append(body)
        if not isinstance(body.get("prompt"), str):
            return error(400, "prompt must be a string")
        try:
            text = answer(body["prompt"], by_question, order, wrong)
        except LookupError as exc:
            return error(404, str(exc))
        prompt_tokens, completion_tokens = len(body["prompt"].split()), len(text.split())
        return {"id": f"cmpl-scripted-{time.monotonic_ns()}", "object": "text_completion",
                "created": int(time.time()), "model": body.get("model", "bfcl-scripted"),
                "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}

    return app


@contextlib.contextmanager
def scripted_server(categories, *, wrong: bool = False, data_dir: Path | None = None,
                    requests: list[dict] | None = None) -> Iterator[str]:
    """Serve the scripted model for `categories`; yields the base URL (`http://127.0.0.1:N/v1`).
    Request bodies are appended to `requests` when one is given."""
    app = make_app(list(categories), wrong, data_dir or bfcl_data_dir(), requests)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the scripted BFCL server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
