"""The word-level tokenizer of tiny-flux-shapes: whole words, an end token for CLIP's pooled output."""

from na_accel.tiny.shapes.scenes import vocabulary
from na_accel.tiny.shapes.tokenizer import shapes_tokenizer


def test_every_caption_word_is_one_known_token():
    tokenizer = shapes_tokenizer(16)
    for word in vocabulary():
        ids = tokenizer(word).input_ids
        assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
        assert len(ids) == 3 and ids[1] != tokenizer.unk_token_id, word


def test_prompts_are_lower_cased_split_on_punctuation_and_padded():
    tokenizer = shapes_tokenizer(16)
    ids = tokenizer("A Red circle, top LEFT", padding="max_length", max_length=12).input_ids
    words = tokenizer.convert_ids_to_tokens(ids)
    assert words[:8] == ["<s>", "a", "red", "circle", ",", "top", "left", "</s>"]
    assert words[8:] == ["<pad>"] * 4
    assert tokenizer.convert_ids_to_tokens(tokenizer("a fox").input_ids) == ["<s>", "a", "<unk>", "</s>"]


def test_the_clip_encoder_pools_at_the_end_token(tmp_path):
    """FluxPipeline takes CLIP's pooled output: the hidden state at the end token, which moves with the prompt."""
    from na_accel.tiny.shapes.config import TrainingConfig
    from na_accel.tiny.shapes.train import build_components

    components = build_components(TrainingConfig())
    tokenizer, encoder = components["tokenizer"], components["text_encoder"]
    batch = tokenizer(["a red circle", "a red circle at the top left"], padding="max_length", max_length=16,
                      return_tensors="pt")
    output = encoder(batch.input_ids)
    ends = (batch.input_ids == tokenizer.eos_token_id).int().argmax(dim=1)
    for row, end in enumerate(ends.tolist()):
        assert (output.pooler_output[row] == output.last_hidden_state[row, end]).all()
