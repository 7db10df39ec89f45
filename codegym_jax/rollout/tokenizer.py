"""A small byte-level BPE tokenizer with a Qwen2.5-style chat template (tools + tool messages).

No tokenizer can be downloaded here, so tests and from-scratch CPU runs train one on project text
(env task descriptions, tool docs). The special tokens and the chat template follow the Qwen2.5
conventions the rollout code relies on: `<|im_start|>role\\n...<|im_end|>\\n` turns, a JSON tool
list in the system turn, `<tool_call>` JSON calls, tool results as `<tool_response>` blocks in a
user turn.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

# The tokenizer from-scratch runs use (config `model.tokenizer_path` empty): trained by `main`
# below on the library's task descriptions, tool docs and oracle transcripts, and shipped.
SHIPPED_DIR = pathlib.Path(__file__).resolve().parent / "bpe_tokenizer"
SHIPPED_VOCAB_SIZE = 2048

SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|FunctionCallBegin|>", "<|FunctionCallEnd|>", "<tool_call>", "</tool_call>",
    "<tool_response>", "</tool_response>",
)

# Our own wording of a Qwen2.5-style template. Tool messages that follow one another share one
# user turn, as in Qwen2.5. An assistant message is rendered from its `content` verbatim, and its
# structured `tool_calls` (if any) as <tool_call> blocks after it.
CHAT_TEMPLATE = (
    # Block tags use no whitespace control; newlines that follow a block tag are written as
    # {{ NL }} because transformers renders with trim_blocks (which eats a newline after a tag).
    "{% set NL = '\\n' %}"
    "{% if tools %}"
    "<|im_start|>system{{ NL }}"
    "{% if messages[0].role == 'system' %}{{ messages[0].content }}{{ NL }}{{ NL }}{% endif %}"
    "# Tools{{ NL }}{{ NL }}These functions are available to you. Their signatures are listed inside "
    "<tools></tools> tags:{{ NL }}<tools>"
    "{% for tool in tools %}{{ NL }}{{ tool | tojson }}{% endfor %}{{ NL }}</tools>{{ NL }}{{ NL }}"
    "To call a function, answer with one JSON object holding its name and arguments inside "
    "<tool_call></tool_call> tags:{{ NL }}<tool_call>{{ NL }}"
    "{\"name\": <function-name>, \"arguments\": <arguments-json-object>}{{ NL }}</tool_call><|im_end|>{{ NL }}"
    "{% elif messages[0].role == 'system' %}"
    "<|im_start|>system{{ NL }}{{ messages[0].content }}<|im_end|>{{ NL }}"
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message.role == 'system' and loop.first %}"
    "{% elif message.role == 'tool' %}"
    "{% if loop.first or messages[loop.index0 - 1].role != 'tool' %}<|im_start|>user{% endif %}"
    "{{ NL }}<tool_response>{{ NL }}{{ message.content }}{{ NL }}</tool_response>"
    "{% if loop.last or messages[loop.index0 + 1].role != 'tool' %}<|im_end|>{{ NL }}{% endif %}"
    "{% else %}"
    "<|im_start|>{{ message.role }}{{ NL }}{{ message.content if message.content is string else '' }}"
    "{% if message.role == 'assistant' and message.tool_calls %}"
    "{% for call in message.tool_calls %}"
    "{% set fn = call.function if call.function is defined else call %}"
    "{% if message.content or not loop.first %}{{ NL }}{% endif %}"
    "<tool_call>{{ NL }}{\"name\": \"{{ fn.name }}\", \"arguments\": "
    "{{ fn.arguments if fn.arguments is string else fn.arguments | tojson }}}{{ NL }}</tool_call>"
    "{% endfor %}"
    "{% endif %}"
    "<|im_end|>{{ NL }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant{{ NL }}{% endif %}"
)


def build_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts`; special tokens get the first ids (0..8)."""
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size {vocab_size} < 256 byte tokens + {len(SPECIAL_TOKENS)} special tokens")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    core.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save(tokenizer: PreTrainedTokenizerFast, path: str | os.PathLike) -> None:
    tokenizer.save_pretrained(str(path))


def load(path: str | os.PathLike) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast.from_pretrained(str(path))


def project_texts() -> list[str]:
    """Training text from the built-in env library: task descriptions and rendered tool docs."""
    from codegym_jax.envs.tool_docs import extract_env_spec, render_tool_docs

    library = os.path.join(os.path.dirname(os.path.dirname(__file__)), "envs", "library")
    texts = []
    for name in sorted(os.listdir(library)):
        if name.endswith(".py") and not name.startswith("_"):
            with open(os.path.join(library, name)) as f:
                source = f.read()
            spec = extract_env_spec(source)
            texts.append(render_tool_docs(spec))
            if spec.task_description:
                texts.append(spec.task_description)
    return texts


def transcript_texts(pool, difficulties=("easy", "medium"), seeds: int = 3) -> list[str]:
    """Whole oracle episodes of every library env as the agent sees them (chat template, both
    tool-doc styles, both tool-call formats), so the template's markup, call syntax, JSON and
    numbers get their merges."""
    from codegym_jax.envs.library import library_env_files
    from codegym_jax.envs.tool_docs import extract_env_spec
    from codegym_jax.rollout.chat_format import initial_messages, observation_message, render
    from codegym_jax.rollout.tool_calls import format_call

    # Only the template is used here (it renders text; no vocabulary is involved).
    renderer = build_bpe_tokenizer(["bootstrap"], vocab_size=256 + len(SPECIAL_TOKENS))
    texts = []
    for path in library_env_files().values():
        source = path.read_text(encoding="utf-8")
        spec = extract_env_spec(source)
        for difficulty in difficulties:
            for seed in range(seeds):
                env_str = pool.call_function(source, "generate", seed, difficulty)
                result = pool.run_oracle(source, env_str)
                fmt, docs = ("codegym", "native")[seed % 2], ("full", "compact")[(seed // 2) % 2]
                messages, tools = initial_messages(spec, spec.task_description or "", fmt, docs)
                for action, observation in zip(result.actions, result.observations):
                    call = format_call(action["name"], action.get("parameters", {}), fmt)
                    messages += [{"role": "assistant", "content": call}, observation_message(observation)]
                texts.append(render(renderer, messages, tools, add_generation_prompt=True))
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the shipped byte-level BPE on the library's texts.")
    parser.add_argument("--out", default=str(SHIPPED_DIR), help="output folder (default: the shipped one)")
    parser.add_argument("--vocab-size", type=int, default=SHIPPED_VOCAB_SIZE)
    args = parser.parse_args(argv)
    from sandbox.pool import SandboxPool

    with SandboxPool() as pool:
        texts = project_texts() + transcript_texts(pool)
    tokenizer = build_bpe_tokenizer(texts, args.vocab_size)
    save(tokenizer, args.out)
    print(f"{len(tokenizer)} tokens from {len(texts)} texts -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
