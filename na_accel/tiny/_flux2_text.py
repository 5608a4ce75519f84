"""Tiny text encoders of the FLUX.2 pipelines, built offline: Mistral 3 (Flux2Pipeline) and Qwen 3 (Klein).

Flux2Pipeline's tokenizer is a PixtralProcessor, which transformers refuses to build without
torchvision; the pipeline only calls its ``apply_chat_template`` (batched messages, padding,
truncation), which a plain tokenizer with a chat template has too. So the tiny pipeline gets a
tokenizer with Mistral's chat markers (prompt upsampling, which needs the image processor, is not
available on it). One token per character, as the other tiny tokenizers.
"""

from __future__ import annotations

import torch

from ._text import _CHARS, _SPIECE

# A minimal Mistral 3 chat template over Flux2Pipeline's messages: system text, then user text.
_MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}[SYSTEM_PROMPT]"
    "{% for c in m['content'] %}{{ c['text'] }}{% endfor %}[/SYSTEM_PROMPT]{% elif m['role'] == 'user' %}[INST]"
    "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% else %}[IMG]{% endif %}{% endfor %}"
    "[/INST]{% endif %}{% endfor %}"
)
_MISTRAL_MARKERS = ("[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[IMG]")

# Qwen 3's chat template, reduced to what Flux2KleinPipeline uses (one user turn, no thinking).
_QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)
_QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")


def tiny_mistral_tokenizer():
    """A LlamaTokenizerFast over single characters with Mistral's chat markers.

    Truncation keeps the end of the text: Flux2Pipeline puts its system message first, and the
    prompt must survive the tiny text length.
    """
    from transformers import LlamaTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>", *_MISTRAL_MARKERS]
    vocab = {token: i for i, token in enumerate([*specials, _SPIECE, *_CHARS])}
    tokenizer = LlamaTokenizerFast(vocab=vocab, merges=[], unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")
    tokenizer.add_special_tokens({"additional_special_tokens": list(_MISTRAL_MARKERS)})
    tokenizer.chat_template = _MISTRAL_TEMPLATE
    tokenizer.truncation_side = "left"
    return tokenizer


def tiny_mistral3_text_encoder(tokenizer, hidden_size: int = 16, num_layers: int = 3, seed: int = 0):
    """A Mistral3ForConditionalGeneration (Mistral text model + a 1-layer Pixtral vision tower)."""
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration

    torch.manual_seed(seed)
    text = dict(model_type="mistral", vocab_size=len(tokenizer), hidden_size=hidden_size,
                intermediate_size=2 * hidden_size, num_hidden_layers=num_layers, num_attention_heads=2,
                num_key_value_heads=1, head_dim=hidden_size // 2, max_position_embeddings=512,
                pad_token_id=tokenizer.pad_token_id)
    vision = dict(model_type="pixtral", hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=32, image_size=32, patch_size=8, head_dim=8)
    config = Mistral3Config(text_config=text, vision_config=vision, spatial_merge_size=1,
                            image_token_index=tokenizer.convert_tokens_to_ids("[IMG]"))
    return Mistral3ForConditionalGeneration(config).eval()


def tiny_qwen_tokenizer():
    """A Qwen2TokenizerFast (byte-level: spaces are "Ġ", newlines "Ċ") over single characters."""
    from transformers import Qwen2TokenizerFast

    vocab = {token: i for i, token in enumerate([*_QWEN_SPECIALS, "Ġ", "Ċ", *_CHARS])}
    tokenizer = Qwen2TokenizerFast(vocab=vocab, merges=[], unk_token=None, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": list(_QWEN_SPECIALS[1:])})
    tokenizer.chat_template = _QWEN_TEMPLATE
    return tokenizer


def tiny_qwen3_text_encoder(tokenizer, hidden_size: int = 16, num_layers: int = 3, seed: int = 0):
    """A Qwen3ForCausalLM."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=num_layers, num_attention_heads=2, num_key_value_heads=1,
                         head_dim=hidden_size // 2, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id)
    return Qwen3ForCausalLM(config).eval()
