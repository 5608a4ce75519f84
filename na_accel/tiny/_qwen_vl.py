"""A tiny Qwen2 tokenizer and Qwen2.5-VL text encoder, built offline from code (no hub files).

Qwen-Image's pipelines encode prompts with Qwen2.5-VL-7B-Instruct and read its last hidden states.
The stand-ins keep the real classes (``Qwen2Tokenizer``, ``Qwen2_5_VLForConditionalGeneration``) so
the pipelines' own prompt code runs: the tokenizer is byte-level BPE without merges (one token per
byte of UTF-8, the chat-template markers as special tokens), the model a random-weight 2-layer
Qwen2.5-VL (its vision tower is built too, one block wide, as the class requires).
"""

from __future__ import annotations

import torch

CHAT_TOKENS = ("<|im_start|>", "<|im_end|>")
ENDOFTEXT = "<|endoftext|>"  # Qwen2's unknown, end and padding token


def tiny_qwen2_tokenizer():
    """A Qwen2Tokenizer over the 256 byte-level symbols: one token per byte, right padding."""
    from tokenizers import pre_tokenizers
    from transformers import Qwen2Tokenizer

    symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate([*symbols, ENDOFTEXT])}
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[], unk_token=ENDOFTEXT, eos_token=ENDOFTEXT, pad_token=ENDOFTEXT)
    tokenizer.add_special_tokens({"additional_special_tokens": list(CHAT_TOKENS)})
    tokenizer.padding_side = "right"
    return tokenizer


def tiny_qwen2_5_vl_text_encoder(tokenizer, hidden_size: int = 32, seed: int = 0):
    """A random-weight Qwen2_5_VLForConditionalGeneration whose hidden states are ``hidden_size`` wide.

    Its text model uses multimodal RoPE like the real one (mrope_section sums to head_dim / 2).
    """
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    heads = 2
    half = hidden_size // heads // 2
    section = [half - 2 * (half // 3), half // 3, half // 3]
    torch.manual_seed(seed)
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=2,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=2048,
            rope_scaling={"type": "mrope", "mrope_section": section},
            bos_token_id=None,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=hidden_size,
                           fullatt_block_indexes=[0]),
    )
    return Qwen2_5_VLForConditionalGeneration(config).eval()


def template_prefix_tokens(tokenizer, template: str) -> int:
    """How many tokens of ``template`` come before its ``{}`` (what the pipeline drops from the embeddings)."""
    return len(tokenizer(template.split("{}", 1)[0])["input_ids"])


__all__ = ["tiny_qwen2_5_vl_text_encoder", "tiny_qwen2_tokenizer", "template_prefix_tokens"]
