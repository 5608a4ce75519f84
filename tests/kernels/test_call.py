"""GNACall: the one value a backend takes. Its checks name the field, the value and what is allowed;
its derived layout (grids, slices, per-grid calls) is what the kernels used to compute by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from na_accel.kernels import GNACall
from na_accel.windows import WindowSpec

SPEC = WindowSpec((3, 3), (1, 1), (1, 1), (False, False))
OWN, REF = SPEC.resolve((4, 5)), SPEC.resolve((3, 3))


@pytest.mark.parametrize("fields, message", [
    (dict(window=(3, 3)), r"window=\(3, 3\); allowed: a ResolvedWindow"),
    (dict(text_len=-1), "text_len=-1; allowed: a whole number >= 0"),
    (dict(text_len=2.0), "text_len=2.0; allowed: a whole number >= 0"),
    (dict(text_first=1), "text_first=1; allowed: True or False"),
    (dict(text_len=4, text_valid_lens=(4, 5)), r"text_valid_lens=\(4, 5\); allowed: None or one whole number in "
                                                "0..text_len=4 per batch row"),
    (dict(text_len=4, text_valid_lens=()), r"text_valid_lens=\(\)"),
    (dict(text_len=4, text_valid_lens=3), "text_valid_lens=3"),
    (dict(extra_windows=(SPEC.resolve((2, 2)), (3, 3))),
     r"extra_windows=\(.*\); allowed: a tuple of ResolvedWindows on 2-D grids \(window's rank\)"),
    (dict(extra_windows=(WindowSpec((2,), (1,), (1,), (False,)).resolve((5,)),)), r"extra_windows=\(.*on 2-D grids"),
])
def test_a_bad_field_is_refused_naming_it(fields, message):
    with pytest.raises(ValueError, match=f"GNACall: {message}"):
        GNACall(**{"window": OWN, **fields})


def test_lists_become_tuples_and_the_call_is_hashable():
    call = GNACall(OWN, 4, False, [4, 2], [REF])
    assert call.text_valid_lens == (4, 2) and call.extra_windows == (REF,)
    assert hash(call) == hash(GNACall(OWN, 4, False, (4, 2), (REF,)))


@pytest.mark.parametrize("text_first", [True, False])
def test_the_layout_of_the_joint_sequence(text_first):
    call = GNACall(OWN, 4, text_first, extra_windows=(REF,))
    assert call.windows == (OWN, REF) and call.grids == ((4, 5), (3, 3))
    assert call.n_visual == 29 and call.tokens == 33
    if text_first:
        assert (call.text_slice, call.visual_slice) == (slice(0, 4), slice(4, 33))
        assert call.grid_slices == (slice(4, 24), slice(24, 33))
    else:
        assert (call.text_slice, call.visual_slice) == (slice(29, 33), slice(0, 29))
        assert call.grid_slices == (slice(0, 20), slice(20, 29))
    call.check_tokens(33, "here")
    with pytest.raises(ValueError, match=r"here: sequence length 32 != grids \[\(4, 5\), \(3, 3\)\] \(29 tokens\) "
                                         r"\+ 4 text tokens"):
        call.check_tokens(32, "here")


def test_a_grids_call_sees_the_other_grids_as_leading_text():
    call = GNACall(OWN, 4, False, (4, 1), (REF,))
    assert call.grid_call(0) == GNACall(OWN, 9 + 4, True, (13, 10))
    assert call.grid_call(1) == GNACall(REF, 20 + 4, True, (24, 21))
    assert replace(call, text_valid_lens=None).grid_call(1).text_valid_lens is None
