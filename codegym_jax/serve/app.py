"""The OpenAI-compatible routes over a `ServedModel` (FastAPI).

    GET  /health                 200 {"status": "ok"} (no key needed)
    GET  /v1/models              the served model id
    POST /v1/chat/completions    messages (+ tools) through the model's chat template; replies
                                 with <tool_call> blocks come back as OpenAI tool_calls
    POST /v1/completions         a prompt string or token ids, continued as is

With an API key every route but /health needs `Authorization: Bearer <key>` (401 otherwise).
Errors are OpenAI's error body: 400 for a request that does not fit the schema or the model
(the message and `param` name the field), 401, 404 for an unknown model id, 500 for an engine
failure.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from codegym_jax.rollout.tool_calls import split_native_calls
from codegym_jax.serve import generation
from codegym_jax.serve.generation import ServedModel
from codegym_jax.serve.protocol import (ChatCompletionRequest, ChatMessage, CompletionRequest, OpenAIError,
                                        bad_request, refuse_unsupported, stop_strings)


def make_app(model: ServedModel, api_key: str | None = None) -> FastAPI:
    app = FastAPI(title="codegym-jax OpenAI-compatible server", docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def require_key(request: Request, call_next):
        if api_key and request.url.path != "/health":
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                error = OpenAIError(401, "missing or wrong API key (send Authorization: Bearer <key>)",
                                    error_type="authentication_error", code="invalid_api_key")
                return JSONResponse(error.body(), status_code=401)
        return await call_next(request)

    @app.exception_handler(OpenAIError)
    async def openai_error(_: Request, error: OpenAIError):
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException):
        # e.g. a body the JSON parser gives up on (nesting too deep), an unknown route
        body = OpenAIError(error.status_code, str(error.detail)).body()
        return JSONResponse(body, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, error: RequestValidationError):
        return JSONResponse(validation_error(error).body(), status_code=400)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model.names[0], "object": "model", "created": 0,
                                            "owned_by": "codegym-jax", "max_model_len": model.context_len}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: ChatCompletionRequest):
        return await chat_completion(model, request)

    @app.post("/v1/completions")
    async def completions(request: CompletionRequest):
        return await completion(model, request)

    return app


def validation_error(error: RequestValidationError) -> OpenAIError:
    """The first schema error as a 400 whose param is the field's dotted path."""
    first = error.errors()[0]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "")
        return bad_request(f"the request body is not valid JSON: {reason}".rstrip(": "))
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(loc) or None
    message = first.get("msg", "invalid request")
    if first.get("type") == "extra_forbidden":
        message = "unrecognized request argument"
    return bad_request(f"{param}: {message}" if param else message, param)


def check_model(model: ServedModel, name: str) -> None:
    if name not in model.names:
        raise OpenAIError(404, f"the model {name!r} does not exist; this server serves {model.names[0]!r}",
                          "model", code="model_not_found")


def template_messages(messages: list[ChatMessage]) -> list[dict]:
    """OpenAI messages as chat-template messages: text parts joined, developer as system, tool
    call arguments decoded to objects (what HF templates expect)."""
    out = []
    for i, m in enumerate(messages):
        content = m.content if not isinstance(m.content, list) else "".join(p.text for p in m.content)
        message = {"role": "system" if m.role == "developer" else m.role, "content": content or ""}
        if m.tool_calls:
            calls = []
            for j, call in enumerate(m.tool_calls):
                try:
                    arguments = json.loads(call.function.arguments or "{}")
                except json.JSONDecodeError as e:
                    field = f"messages.{i}.tool_calls.{j}.function.arguments"
                    raise bad_request(f"{field} is not a JSON object: {e}", field)
                calls.append({"id": call.id, "type": "function",
                              "function": {"name": call.function.name, "arguments": arguments}})
            message["tool_calls"] = calls
        if m.tool_call_id is not None:
            message["tool_call_id"] = m.tool_call_id
        if m.name is not None:
            message["name"] = m.name
        out.append(message)
    return out


def chat_prompt(model: ServedModel, request: ChatCompletionRequest) -> list[int]:
    tools = None
    if request.tools and request.tool_choice != "none":
        tools = [t.model_dump(exclude_none=True) for t in request.tools]
    try:
        text = model.tokenizer.apply_chat_template(template_messages(request.messages), tools=tools,
                                                   add_generation_prompt=True, tokenize=False,
                                                   **(request.chat_template_kwargs or {}))
    except OpenAIError:
        raise
    except Exception as e:  # the template's own checks (roles, alternation) raise here
        raise bad_request(f"the chat template could not render these messages: {e}", "messages")
    return list(model.tokenizer.encode(text, add_special_tokens=False))


def assistant_message(model: ServedModel, text: str, parse_tools: bool) -> tuple[dict, bool]:
    """(the reply's message, whether it called tools)."""
    message: dict = {"role": "assistant"}
    if model.thinks and "</think>" in text:
        reasoning, text = text.split("</think>", 1)
        message["reasoning_content"] = reasoning.split("<think>", 1)[-1].strip()
        text = text.lstrip("\n")
    calls = []
    if parse_tools:
        text, calls = split_native_calls(text)
    message["content"] = text if text or not calls else None
    if calls:
        message["tool_calls"] = [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                                  "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                                 for c in calls]
    return message, bool(calls)


async def chat_completion(model: ServedModel, request: ChatCompletionRequest) -> dict:
    check_model(model, request.model)
    refuse_unsupported(request)
    stops = stop_strings(request)
    prompt = chat_prompt(model, request)
    budget_field = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
    max_new = generation.completion_budget(model, len(prompt), request.max_completion_tokens or request.max_tokens,
                                           "messages", budget_field)
    results = await generation.sample_choices(model, request, prompt, max_new,
                                              generation.request_stop_ids(model, request, stops))
    parse_tools = bool(request.tools) and request.tool_choice != "none"
    choices, completion_tokens = [], 0
    for index, result in enumerate(results):
        text, finish, kept = generation.reply_text(model, result, stops, request.skip_special_tokens)
        message, called = assistant_message(model, text, parse_tools)
        logprobs = None
        if request.logprobs:
            logprobs = {"content": [{"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []}
                                    for t, lp in zip(generation.token_texts(model, result.token_ids[:kept]),
                                                     result.logprobs[:kept])]}
        choices.append({"index": index, "message": message, "logprobs": logprobs,
                        "finish_reason": "tool_calls" if called and finish == "stop" else finish})
        completion_tokens += len(result.token_ids)
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": request.model, "choices": choices, "usage": usage(len(prompt), completion_tokens)}


def completion_prompts(model: ServedModel, prompt) -> list[list[int]]:
    if isinstance(prompt, str):
        prompt = [prompt]
    if prompt and all(isinstance(p, int) for p in prompt):
        prompt = [prompt]
    if not prompt:
        raise bad_request("prompt is empty", "prompt")
    vocab_size = len(model.tokenizer)
    out = []
    for i, p in enumerate(prompt):
        ids = list(model.tokenizer.encode(p, add_special_tokens=False)) if isinstance(p, str) else list(p)
        if not ids:
            raise bad_request(f"prompt {i} has no tokens", "prompt")
        bad = [t for t in ids if not 0 <= t < vocab_size]
        if bad:
            raise bad_request(f"prompt {i} holds token ids {bad[:5]} outside the vocabulary of {vocab_size}", "prompt")
        out.append(ids)
    return out


async def completion(model: ServedModel, request: CompletionRequest) -> dict:
    check_model(model, request.model)
    refuse_unsupported(request)
    stops = stop_strings(request)
    prompts = completion_prompts(model, request.prompt)
    stop_ids = generation.request_stop_ids(model, request, stops)
    budgets = [generation.completion_budget(model, len(p), request.max_tokens, "prompt", "max_tokens")
               for p in prompts]
    per_prompt = await asyncio.gather(*(
        generation.sample_choices(model, request, p, b, stop_ids, first_index=0)
        for p, b in zip(prompts, budgets)))
    choices, completion_tokens = [], 0
    for i, results in enumerate(per_prompt):
        for j, result in enumerate(results):
            text, finish, kept = generation.reply_text(model, result, stops, request.skip_special_tokens)
            logprobs = None
            if request.logprobs is not None:
                tokens = generation.token_texts(model, result.token_ids[:kept])
                offsets = [sum(len(t) for t in tokens[:k]) for k in range(len(tokens))]
                logprobs = {"tokens": tokens, "token_logprobs": list(result.logprobs[:kept]),
                            "top_logprobs": None, "text_offset": offsets}
            choices.append({"index": i * request.n + j, "text": text, "logprobs": logprobs, "finish_reason": finish})
            completion_tokens += len(result.token_ids)
    return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
            "model": request.model, "choices": choices,
            "usage": usage(sum(len(p) for p in prompts), completion_tokens)}


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}
