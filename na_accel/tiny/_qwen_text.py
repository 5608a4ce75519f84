"""Tiny Qwen2 / ByT5 tokenizers and text encoders (HunyuanVideo 1.5's), built offline in code.

The Qwen2 tokenizer is byte-level BPE without merges over the printable ASCII characters: one token
per character (a space is "Ġ", a newline "Ċ", as in Qwen's byte-level alphabet), with Qwen's chat
markers kept whole and a minimal Qwen chat template. ByT5's tokenizer needs no files at all (one
token per byte). The encoders are random-weight models from small configs.
"""

from __future__ import annotations

import string

import torch

QWEN_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Byte-level symbols of the printable ASCII characters (themselves), the space and the newline.
_QWEN_SYMBOLS = string.ascii_letters + string.digits + string.punctuation + "\u0120\u010a"
# Qwen's chat format, without its tool-calling branches.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_qwen2_tokenizer():
    """A Qwen2Tokenizer with one token per character, Qwen's chat template, right padding."""
    from transformers import Qwen2Tokenizer

    vocab = {token: i for i, token in enumerate([*QWEN_SPECIAL_TOKENS, *_QWEN_SYMBOLS])}
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": list(QWEN_SPECIAL_TOKENS[1:])})
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    tokenizer.padding_side = "right"
    return tokenizer


def chat_prefix_tokens(tokenizer, system_message: str) -> int:
    """Tokens before the user's prompt in Qwen's chat format (a pipeline's crop_start)."""
    prefix = tokenizer.apply_chat_template([{"role": "system", "content": system_message}], tokenize=False)
    return len(tokenizer(prefix + "<|im_start|>user\n")["input_ids"])


def tiny_qwen25_vl_text_encoder(vocab_size: int, hidden_size: int = 32, num_layers: int = 3, seed: int = 0):
    """A Qwen2_5_VLTextModel (multimodal RoPE sections sum to head_dim / 2); 3 layers, since
    HunyuanVideo 1.5 reads hidden_states[-3]."""
    from transformers import Qwen2_5_VLTextModel
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLTextConfig

    heads = 2
    half = hidden_size // heads // 2
    torch.manual_seed(seed)
    config = Qwen2_5_VLTextConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                         "mrope_section": [half - 2 * (half // 3), half // 3, half // 3]},
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=0,
    )
    return Qwen2_5_VLTextModel(config).eval()


def tiny_byt5_tokenizer():
    """ByT5's tokenizer (bytes; nothing to download)."""
    from transformers import ByT5Tokenizer

    return ByT5Tokenizer()


__all__ = ["QWEN_CHAT_TEMPLATE", "chat_prefix_tokens", "tiny_byt5_tokenizer", "tiny_qwen25_vl_text_encoder",
           "tiny_qwen2_tokenizer"]
