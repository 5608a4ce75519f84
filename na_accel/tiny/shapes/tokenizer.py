"""The tiny shapes world's tokenizer: one token per caption word, built in memory (no hub files).

A word-level ``PreTrainedTokenizerFast`` (lower-cased, split on spaces and punctuation, ``<s> ... </s>``
around every prompt), so both of FluxPipeline's text encoders see words and the CLIP encoder's
pooled output finds the end token. Words outside the captions' vocabulary become ``<unk>``.
"""

from __future__ import annotations

from .scenes import vocabulary

SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")
PUNCTUATION = (",", ".")
CLIP_TOKENS = 16  # the CLIP encoder's prompt length (FluxPipeline pads to the tokenizer's model_max_length)
T5_TOKENS = 32  # the T5 encoder's prompt length: the max_sequence_length the model was trained with


def shapes_tokenizer(model_max_length: int):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *PUNCTUATION, *vocabulary()])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=model_max_length,
    )
