"""Prompt rendering in the two tool-call formats (docs/architecture.md, "Tool-call formats") and the
episode's token buffer.

codegym: tool docs (`render_tool_docs`) in the system message; our instructions and the task
  description in the user message; calls as <|FunctionCallBegin|>[{...}]<|FunctionCallEnd|>.
native: the tokenizer's own chat template with the JSON-schema tool list (`tool_json_schemas`);
  Qwen2.5 <tool_call> calls.
Both formats send observations back as tool messages and render through the tokenizer's chat
template, so the text of a conversation is always the template's rendering of its messages.

TokenBuffer is token-in-token-out: the prompt is tokenized once, sampled tokens are appended as
sampled, and after each turn only the new text (the observation turn and the next generation
prompt) is tokenized and appended.
"""

from __future__ import annotations

from typing import Sequence

from codegym_jax.envs.tool_docs import EnvSpec, render_tool_docs, tool_json_schemas
from codegym_jax.rollout.tool_calls import FORMATS, format_call

CODEGYM_INSTRUCTIONS = (
    "Solve the task below by working with the functions described in the system message. "
    "Each reply must contain exactly one function call, written as a JSON list holding one object "
    "with the function's name and parameters, between the markers, for example:\n"
    "{example}\n"
    "After each call you will see what the function returned. Use Observe() to look at the "
    "current state, and finish with Done(answer) once you know the answer; only that answer "
    "is graded."
)
NATIVE_SYSTEM = "You solve tasks by calling the tools you are given, one call per reply."
NATIVE_INSTRUCTIONS = (
    "Solve the task below with the available tools. Call exactly one tool per reply. Use Observe "
    "to look at the current state, and finish by calling Done with your answer; only that answer "
    "is graded."
)


TOOL_DOCS = ("full", "compact")


def compact_tool_docs(spec: EnvSpec) -> str:
    """One line per tool, `Name(param: type, ...): first sentence of its description`: a prompt a
    fraction the length of the full docstrings, for small-context runs."""
    lines = []
    for tool in spec.tools:
        params = ", ".join(f"{p.name}: {p.type}" if p.type else p.name for p in tool.params)
        lines.append(f"{tool.name}({params}): {tool.description.strip()}")
    return "\n".join(lines)


def initial_messages(spec: EnvSpec, task_description: str, fmt: str,
                     tool_docs: str = "full") -> tuple[list[dict], list[dict] | None]:
    """(messages, tools) that open an episode in format `fmt`; tools is None for codegym.
    tool_docs (codegym format): "full" docstrings, or "compact" one-line signatures."""
    if tool_docs not in TOOL_DOCS:
        raise ValueError(f"unknown tool_docs {tool_docs!r}; expected one of {TOOL_DOCS}")
    if fmt == "codegym":
        docs = render_tool_docs(spec) if tool_docs == "full" else compact_tool_docs(spec)
        system = "You can call the following functions.\n\n" + docs
        example = format_call("Observe", {}, "codegym")
        user = CODEGYM_INSTRUCTIONS.format(example=example) + "\n\nTask:\n" + task_description
        return [{"role": "system", "content": system}, {"role": "user", "content": user}], None
    if fmt == "native":
        user = NATIVE_INSTRUCTIONS + "\n\nTask:\n" + task_description
        return ([{"role": "system", "content": NATIVE_SYSTEM}, {"role": "user", "content": user}],
                tool_json_schemas(spec))
    raise ValueError(f"unknown chat format {fmt!r}; expected one of {FORMATS}")


def observation_message(observation: str) -> dict:
    return {"role": "tool", "content": observation}


def render(tokenizer, messages: list[dict], tools: list[dict] | None, add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tools=tools, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def turn_end_token_id(tokenizer) -> int:
    """The token that closes an assistant turn (<|im_end|>): the stop token of every turn."""
    token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise ValueError("tokenizer has no <|im_end|> token; the chat formats need a Qwen-style vocabulary")
    return int(token_id)


def decode(tokenizer, token_ids: Sequence[int]) -> str:
    return tokenizer.decode(list(token_ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)


class TokenBuffer:
    """One episode's append-only token buffer with its loss mask and sampler log-probs."""

    def __init__(self, tokenizer, messages: list[dict], tools: list[dict] | None):
        self.tokenizer = tokenizer
        self.tools = tools
        self.messages = [dict(m) for m in messages]
        self.turn_end_id = turn_end_token_id(tokenizer)
        prompt = render(tokenizer, self.messages, tools, add_generation_prompt=True)
        self.tokens: list[int] = self._encode(prompt)
        self.loss_mask: list[int] = [0] * len(self.tokens)
        self.logprobs: list[float] = [0.0] * len(self.tokens)
        self.turn_spans: list[tuple[int, int]] = []
        self.prompt_len = len(self.tokens)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def __len__(self) -> int:
        return len(self.tokens)

    def append_sampled(self, token_ids: Sequence[int], logprobs: Sequence[float]) -> str:
        """Append one sampled turn verbatim; returns its text without the closing <|im_end|>.
        The assistant message recorded for it is that text, so the template renders it back
        exactly (when the turn was closed by <|im_end|>)."""
        if len(token_ids) != len(logprobs):
            raise ValueError(f"{len(token_ids)} sampled tokens but {len(logprobs)} log-probs")
        start = len(self.tokens)
        self.tokens.extend(int(t) for t in token_ids)
        self.loss_mask.extend([1] * len(token_ids))
        self.logprobs.extend(float(x) for x in logprobs)
        self.turn_spans.append((start, len(self.tokens)))
        body = list(token_ids)
        if body and body[-1] == self.turn_end_id:
            body = body[:-1]
        content = decode(self.tokenizer, body)
        self.messages.append({"role": "assistant", "content": content})
        return content

    def append_observation(self, observation: str, max_len: int | None = None) -> bool:
        """Append the observation turn and the next generation prompt. Only this new text is
        tokenized. Needs the last turn to have ended with <|im_end|>. When the buffer would
        reach `max_len` tokens (no room left to generate), nothing is appended and it returns
        False."""
        if not self.turn_spans or self.tokens[-1] != self.turn_end_id:
            raise ValueError("an observation can only follow a sampled turn closed by <|im_end|>")
        before = decode(self.tokenizer, self.tokens)
        self.messages.append(observation_message(observation))
        full = render(self.tokenizer, self.messages, self.tools, add_generation_prompt=True)
        if not full.startswith(before):
            raise RuntimeError(
                "chat template rendering is not append-only for this conversation: buffer text "
                f"{before[-200:]!r} is not a prefix of the rendering {full[-400:]!r}")
        delta = self._encode(full[len(before):])
        if max_len is not None and len(self.tokens) + len(delta) >= max_len:
            self.messages.pop()
            return False
        self.tokens.extend(delta)
        self.loss_mask.extend([0] * len(delta))
        self.logprobs.extend([0.0] * len(delta))
        return True

    def text(self) -> str:
        return decode(self.tokenizer, self.tokens)
