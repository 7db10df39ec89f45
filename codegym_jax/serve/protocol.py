"""The OpenAI request bodies the server accepts, as pydantic models, and its error replies.

Every field OpenAI defines for these routes is named here; the ones this server cannot honour
(streaming, penalties, logit bias, top-log-prob alternatives, echo, suffix, best_of > n) are
refused with a 400 that names them (`refuse_unsupported`) rather than silently ignored. Unknown
fields are refused too. A few vLLM extensions that evaluation harnesses send are accepted:
`top_k`, `stop_token_ids`, `skip_special_tokens`, `chat_template_kwargs`.
"""
from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class OpenAIError(Exception):
    """An error reply: HTTP `status`, OpenAI's error body {message, type, param, code}."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 error_type: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.error_type, self.code = status, message, param, error_type, code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, param)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Lenient(BaseModel):
    # Clients echo back whole message objects they received (refusal, annotations, ...).
    model_config = ConfigDict(extra="ignore")


class FunctionDefinition(_Lenient):
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDefinition(_Lenient):
    type: Literal["function"]
    function: FunctionDefinition


class FunctionCall(_Lenient):
    name: str
    # A JSON object encoded as a string, as OpenAI sends and returns it.
    arguments: str


class ToolCall(_Lenient):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class TextPart(_Lenient):
    type: Literal["text"]
    text: str


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[str, list[TextPart], None] = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None


class SamplingFields(_Strict):
    """Fields both routes share."""

    model: str
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=64)
    stop: Union[str, list[str], None] = None
    seed: int | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    # vLLM extensions.
    top_k: int = Field(-1, ge=-1)
    stop_token_ids: list[int] | None = None
    skip_special_tokens: bool = False


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    tools: list[ToolDefinition] | None = None
    tool_choice: Union[Literal["none", "auto", "required"], dict[str, Any], None] = None
    parallel_tool_calls: bool | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    response_format: dict[str, Any] | None = None
    chat_template_kwargs: dict[str, Any] | None = None


class CompletionRequest(SamplingFields):
    prompt: Union[str, list[str], list[int], list[list[int]]]
    # OpenAI's default for this route.
    max_tokens: int | None = Field(16, ge=1)
    logprobs: int | None = Field(None, ge=0, le=5)
    echo: bool = False
    suffix: str | None = None
    best_of: int | None = Field(None, ge=1)


def refuse_unsupported(request: SamplingFields) -> None:
    """Raises a 400 naming the first field set to something this server does not do."""
    checks = [
        ("stream", request.stream, "streaming is not supported; send stream=false"),
        ("stream_options", request.stream_options is not None, "stream_options needs streaming, which is not supported"),
        ("presence_penalty", request.presence_penalty != 0.0, "presence_penalty is not supported (only 0)"),
        ("frequency_penalty", request.frequency_penalty != 0.0, "frequency_penalty is not supported (only 0)"),
        ("logit_bias", bool(request.logit_bias), "logit_bias is not supported"),
    ]
    if isinstance(request, ChatCompletionRequest):
        fmt = (request.response_format or {}).get("type", "text")
        checks += [
            ("top_logprobs", bool(request.top_logprobs), "top_logprobs > 0 is not supported; logprobs=true "
             "returns each sampled token's log-prob"),
            ("response_format", fmt != "text", f"response_format type {fmt!r} is not supported (only 'text')"),
            ("tool_choice", isinstance(request.tool_choice, dict) or request.tool_choice == "required",
             f"tool_choice {request.tool_choice!r} is not supported (use 'auto' or 'none')"),
        ]
    if isinstance(request, CompletionRequest):
        checks += [
            ("logprobs", bool(request.logprobs), "logprobs > 0 (top alternatives) is not supported; logprobs=0 "
             "returns each sampled token's log-prob"),
            ("echo", request.echo, "echo is not supported"),
            ("suffix", request.suffix is not None, "suffix is not supported"),
            ("best_of", request.best_of not in (None, request.n), "best_of other than n is not supported"),
        ]
    for param, refused, message in checks:
        if refused:
            raise bad_request(message, param)


def stop_strings(request: SamplingFields) -> list[str]:
    stop = request.stop
    strings = [stop] if isinstance(stop, str) else list(stop or [])
    if len(strings) > 4 or any(not s for s in strings):
        raise bad_request(f"stop must be up to 4 non-empty strings, got {strings!r}", "stop")
    return strings
