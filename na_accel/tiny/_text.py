"""Tiny tokenizers, text encoders and a Cosmos safety-checker stand-in, shared by the tiny pipelines.

The tokenizers are built from an in-memory vocabulary (no hub files): one token per character, so
a longer prompt gives more tokens. The text encoders are random-weight models from small configs.
"""

from __future__ import annotations

import string

import numpy as np
import torch

# Characters every tiny tokenizer knows; anything else becomes the unknown token.
_CHARS = string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation
_SPIECE = "\u2581"  # sentencepiece's word-start marker ("▁")

# Special tokens of the HunyuanVideo (Llama 3) prompt template, kept whole by the tiny Llama tokenizer.
LLAMA_TEMPLATE_TOKENS = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")


def tiny_llama_tokenizer():
    """A LlamaTokenizerFast over single characters (padding on the right, like HunyuanVideo's)."""
    from transformers import LlamaTokenizerFast

    specials = ["<unk>", "<|begin_of_text|>", "<|end_of_text|>", "<pad>", *LLAMA_TEMPLATE_TOKENS]
    vocab = {token: i for i, token in enumerate([*specials, _SPIECE, *_CHARS])}
    tokenizer = LlamaTokenizerFast(
        vocab=vocab,
        merges=[],
        unk_token="<unk>",
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        pad_token="<pad>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(LLAMA_TEMPLATE_TOKENS)})
    tokenizer.padding_side = "right"
    return tokenizer


def tiny_llama_text_encoder(vocab_size: int, hidden_size: int = 32, num_layers: int = 3, seed: int = 0):
    """A LlamaModel; HunyuanVideo reads hidden_states[-3], so it needs >= 2 layers."""
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    return LlamaModel(config).eval()


def tiny_clip_tokenizer():
    """A CLIPTokenizer over single characters (lower-cased; word ends carry ``</w>``)."""
    from transformers import CLIPTokenizer

    chars = sorted(set(_CHARS.lower()))
    vocab = {t: i for i, t in enumerate(["<|startoftext|>", "<|endoftext|>", *chars, *(c + "</w>" for c in chars)])}
    # 77 as the real CLIP's: FluxPipeline pads its CLIP prompts to model_max_length
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def tiny_clip_text_encoder(tokenizer, hidden_size: int = 24, seed: int = 0):
    """A CLIPTextModel whose pooled output (hidden_size wide) finds the tokenizer's end token."""
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config).eval()


def tiny_t5_tokenizer():
    """A T5TokenizerFast (Unigram) over single characters, with and without the word-start marker."""
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), (_SPIECE, -3.0)]
    pieces += [(c, -2.0) for c in _CHARS] + [(_SPIECE + c, -1.5) for c in _CHARS]
    return T5TokenizerFast(vocab=pieces, extra_ids=0)


def tiny_t5_text_encoder(vocab_size: int, d_model: int = 32, umt5: bool = False, seed: int = 0):
    """A T5EncoderModel (Cosmos) or UMT5EncoderModel (Wan)."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    config_class, model_class = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    config = config_class(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=d_model // 2,
        d_ff=2 * d_model,
        num_layers=2,
        num_heads=2,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return model_class(config).eval()


class SafetyCheckerStandIn(torch.nn.Module):
    """Stands in for Cosmos Guardrail (package ``cosmos_guardrail``): passes every prompt and video.

    The Cosmos pipelines refuse to run without a safety checker; the real one is a large model.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("_anchor", torch.zeros(1), persistent=False)

    def check_text_safety(self, prompt: str) -> bool:
        return True

    def check_video_safety(self, frames: np.ndarray) -> np.ndarray:
        return frames

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @property
    def dtype(self) -> torch.dtype:
        return self._anchor.dtype
