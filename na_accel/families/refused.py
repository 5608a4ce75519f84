"""Diffusion transformers na_accel refuses on purpose, with the reason (one line each).

``REFUSED`` maps a diffusers transformer class name to why GNA can't (or must not) route its self
attention. ``na_accel.patch`` on one of them raises ``UnsupportedModelError`` with this reason, and
the coverage table of docs/models.md (generated from the installed diffusers) shows it. A class in
neither ``FAMILY_SPECS`` nor here is listed as "not yet". One entry per line, sorted.
"""

from __future__ import annotations

REFUSED: dict[str, str] = {
    "AceStepTransformer1DModel": "music generation: a 1-D audio latent sequence, no image or video token grid",
    "Cosmos3OmniTransformer": "packed dual-pathway attention (Cosmos3AttnProcessor): per layer the text tokens attend causally (is_causal) in one call and the generated tokens (video grid, then sound and action) attend [text keys; their own] in another, with grouped KV heads (enable_gqa): queries and keys differ in count and heads, which GNA's seam routes in no family (a key-only text prefix and GQA would need core support)",
    "Kandinsky6SRTransformer3DModel": "already sparse: NABLA attention (Kandinsky6SRAttnProcessor), a BlockMask chosen per call from pooled attention scores, on the flex backend; GNA's window would replace that sparsity, not dense attention",
    "LongCatAudioDiTTransformer": "audio generation: a 1-D audio latent sequence, no image or video token grid",
    "MiniMaxMusic3RVQDepthDecoder": "a music codec's depth decoder: no image or video token grid",
    "MiniMaxMusic3Transformer1DModel": "music generation: a 1-D audio latent sequence, no image or video token grid",
    "PriorTransformer": "unCLIP's prior over CLIP embeddings: a few embedding tokens, no image token grid",
    "QwenImage21Transformer2DModel": "block-causal joint attention: each layer call attends in one call per prefix segment (causal text, each condition image) plus one whose queries are only the target image's tokens, against every key (the KV-cache decode likewise), where GNA routes one self-attention call over the queries' own tokens; QwenImage21FlexAttnProcessor's one call takes a flex BlockMask GNA can't read",
    "RFD4ProteinaTransformer": "protein structure generation: residues, no image or video token grid",
    "SanaTransformer2DModel": "linear attention (SanaLinearAttnProcessor2_0): no softmax attention matrix to window",
    "SanaVideoTransformer3DModel": "linear attention (SanaLinearAttnProcessor3_0) in its self attention: no softmax attention matrix to window",
    "SanaWMTransformer3DModel": "linear attention (gated delta-net over time, SanaWMBidirectionalGDNAttention): no softmax attention matrix to window",
    "StableAudio3DiTModel": "audio generation: a 1-D audio latent sequence, no image or video token grid",
    "StableAudioDiTModel": "audio generation: a 1-D audio latent sequence, no image or video token grid",
    "T5FilmDecoder": "spectrogram (music) diffusion: no image or video token grid",
    "TransformerTemporalModel": "a temporal layer inside UNet video models, not a pipeline's denoiser",
    "WanAnimate2Transformer3DModel": "its denoising self attention (kv_cache_mode='cached') is one flex BlockMask call over a packed [generation | cached reference] buffer in which each generation frame sees every generation token plus only the reference frame aligned with its own: keys are not the queries' tokens and per-frame reference gating is neither a GNA window nor extra keys every query sees; only the once-per-segment reference pass (kv_cache_mode='extract') is plain self attention",
}
