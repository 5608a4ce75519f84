"""A tiny Qwen3-VL text encoder and its tokenizer (FLUX.3's), built offline in code.

FLUX.3's text step takes a Qwen3VLProcessor (``AutoProcessor``) and uses two things of it: its chat
template (``apply_chat_template``) and its tokenizer (``processor.tokenizer``). transformers builds a
Qwen3VLProcessor only with its image and video processors, which need torchvision, not a
dependency of na_accel, and the text step never uses them. So the tiny pipeline gets a plain
Qwen2TokenizerFast with Qwen's chat template that is its own ``.tokenizer`` (as FLUX.2's tiny
pipelines get a tokenizer in place of a PixtralProcessor, see _flux2_text.py). One token per
character, with the vision markers Qwen3-VL's config names. The encoder is a real
Qwen3VLForConditionalGeneration, 3 text layers of width 16 and a 1-layer vision tower (unused).
"""

from __future__ import annotations

import torch

from ._text import _CHARS

_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
             "<|video_pad|>")
# Qwen's chat template, reduced to what FLUX.3's text step uses (one user turn, the generation prompt).
_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
             "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tiny_qwen3vl_tokenizer():
    """A Qwen2TokenizerFast (byte-level: spaces are "Ġ", newlines "Ċ") over single characters, with the
    chat template and ``.tokenizer`` (itself) that FLUX.3's text step asks of its processor."""
    from transformers import Qwen2TokenizerFast

    vocab = {token: i for i, token in enumerate([*_SPECIALS, "Ġ", "Ċ", *_CHARS])}
    tokenizer = Qwen2TokenizerFast(vocab=vocab, merges=[], unk_token=None, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": list(_SPECIALS[1:])})
    tokenizer.chat_template = _TEMPLATE
    tokenizer.tokenizer = tokenizer  # what a Qwen3VLProcessor holds its tokenizer as
    return tokenizer


def tiny_qwen3vl_text_encoder(tokenizer, hidden_size: int = 16, num_layers: int = 3, seed: int = 0):
    """A Qwen3VLForConditionalGeneration: ``num_layers`` text layers of ``hidden_size``."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    torch.manual_seed(seed)
    ids = {name: tokenizer.convert_tokens_to_ids(f"<|{token}|>") for name, token in (
        ("image_token_id", "image_pad"), ("video_token_id", "video_pad"), ("vision_start_token_id", "vision_start"),
        ("vision_end_token_id", "vision_end"))}
    config = Qwen3VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=num_layers, num_attention_heads=2, num_key_value_heads=1,
                         head_dim=hidden_size // 2, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
                         rope_scaling={"rope_type": "default", "mrope_section": [1, 1, 2]}),
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=hidden_size,
                           patch_size=8, spatial_merge_size=1, temporal_patch_size=1, deepstack_visual_indexes=[0]),
        **ids,
    )
    return Qwen3VLForConditionalGeneration(config).eval()


__all__ = ["tiny_qwen3vl_text_encoder", "tiny_qwen3vl_tokenizer"]
