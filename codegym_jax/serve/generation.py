"""From an OpenAI request to engine calls and back: the prompt's tokens, each choice's sampling
parameters, and the text of what was sampled.

Every choice is one engine request, so concurrent HTTP requests (and the n choices of one) are
admitted into the same decode batch of the JAX sampler. A request without a seed still samples
reproducibly: its seed is derived from the server's seed, the prompt's tokens and the choice's
index, never from arrival order.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import pathlib
from typing import Any, Sequence

from codegym_jax.rollout.chat_format import decode
from codegym_jax.rollout.engine import GenerateResult, SamplingParams, generate_one
from codegym_jax.rollout.jax_sampler import MAX_STOP_TOKENS
from codegym_jax.serve.protocol import SamplingFields, bad_request

# Tokens that end a turn or a document in Qwen-family vocabularies.
END_TOKENS = ("<|im_end|>", "<|endoftext|>")


@dataclasses.dataclass
class ServedModel:
    """What the routes serve. `names`: the model ids requests may name (the first is listed by
    /v1/models). `context_len`: prompt + completion tokens of one sequence. `max_new_tokens`:
    the most tokens any one choice generates (a request asking for more gets that many, with
    finish_reason "length"). `stop_ids`: end-of-turn / end-of-text ids every request stops at."""

    engine: Any
    tokenizer: Any
    names: tuple[str, ...]
    context_len: int
    max_new_tokens: int
    stop_ids: tuple[int, ...]
    seed: int = 0

    @property
    def thinks(self) -> bool:
        """Whether the chat template writes <think> blocks (Qwen3): replies are then split into
        reasoning_content and content."""
        return "</think>" in (getattr(self.tokenizer, "chat_template", None) or "")


def end_token_ids(tokenizer, model_dir: str | pathlib.Path | None = None) -> tuple[int, ...]:
    """The tokenizer's EOS, the Qwen end tokens it has, and generation_config.json's eos ids."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    vocab = tokenizer.get_vocab()
    ids += [vocab[t] for t in END_TOKENS if t in vocab]
    config = pathlib.Path(model_dir) / "generation_config.json" if model_dir else None
    if config is not None and config.exists():
        eos = json.loads(config.read_text()).get("eos_token_id", [])
        ids += eos if isinstance(eos, list) else [eos]
    return tuple(dict.fromkeys(int(i) for i in ids))


def choice_seed(model: ServedModel, request_seed: int | None, prompt_ids: Sequence[int], choice: int) -> int:
    material = json.dumps([model.seed if request_seed is None else request_seed, list(prompt_ids), choice])
    return int.from_bytes(hashlib.blake2b(material.encode(), digest_size=4).digest(), "little")


def completion_budget(model: ServedModel, prompt_len: int, requested: int | None, prompt_field: str,
                      budget_field: str) -> int:
    """Tokens to generate for a prompt of `prompt_len`; a prompt or request that does not fit the
    context is a 400 naming the field and the numbers."""
    room = model.context_len - prompt_len
    if room < 1:
        raise bad_request(f"the prompt has {prompt_len} tokens; this model's context is {model.context_len} "
                          "tokens, so nothing can be generated", prompt_field)
    if requested is not None and requested > room:
        raise bad_request(f"{budget_field}={requested} does not fit: the prompt has {prompt_len} tokens and the "
                          f"context is {model.context_len} tokens (at most {room} can be generated)", budget_field)
    return min(requested if requested is not None else room, model.max_new_tokens)


def request_stop_ids(model: ServedModel, request: SamplingFields, stops: list[str]) -> tuple[int, ...]:
    """End tokens, the request's stop_token_ids and stop strings that are single tokens."""
    ids = list(model.stop_ids) + list(request.stop_token_ids or [])
    vocab_size = len(model.tokenizer)
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise bad_request(f"stop_token_ids {bad} are outside the vocabulary of {vocab_size}", "stop_token_ids")
    for text in stops:
        encoded = model.tokenizer.encode(text, add_special_tokens=False)
        if len(encoded) == 1:
            ids.append(encoded[0])
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_STOP_TOKENS:
        raise bad_request(f"{len(ids)} stop tokens (the model's {len(model.stop_ids)} end tokens included); at most "
                          f"{MAX_STOP_TOKENS}", "stop_token_ids")
    return tuple(ids)


async def sample_choices(model: ServedModel, request: SamplingFields, prompt_ids: list[int], max_new_tokens: int,
                         stop_ids: tuple[int, ...], first_index: int = 0) -> list[GenerateResult]:
    """`request.n` continuations of one prompt, submitted together so they share the batch."""
    top_k = max(request.top_k, 0)
    sampling = [SamplingParams(max_new_tokens=max_new_tokens, temperature=request.temperature, top_p=request.top_p,
                               top_k=top_k, stop_token_ids=stop_ids,
                               seed=choice_seed(model, request.seed, prompt_ids, first_index + j))
                for j in range(request.n)]
    return list(await asyncio.gather(*(generate_one(model.engine, prompt_ids, s) for s in sampling)))


def reply_text(model: ServedModel, result: GenerateResult, stops: list[str],
               skip_special_tokens: bool) -> tuple[str, str, int]:
    """(text, finish_reason, tokens kept): the sampled tokens without the stop token that ended
    them, decoded, cut before the first stop string (which then makes the finish "stop")."""
    ids = list(result.token_ids)
    if result.finish_reason == "stop" and ids:
        ids = ids[:-1]
    text = (model.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            if skip_special_tokens else decode(model.tokenizer, ids))
    finish = result.finish_reason if result.finish_reason != "abort" else "length"
    cuts = [text.find(s) for s in stops if s in text]
    if cuts:
        text, finish = text[:min(cuts)], "stop"
    return text, finish, len(ids)


def token_texts(model: ServedModel, token_ids: Sequence[int]) -> list[str]:
    return [decode(model.tokenizer, [t]) for t in token_ids]
