"""An independent oracle of a window's error on one call: the explicit-mask ``reference`` backend's
output against dense SDPA over the whole sequence (padded text keys masked), in float64."""

import math

import torch
import torch.nn.functional as F

from na_accel.kernels.reference import reference_joint_attention


def dense(q, k, v, text_len, text_first, valid_lens):
    """SDPA over every token, padded text keys masked: the stock call."""
    seq = q.shape[1]
    mask = torch.ones(q.shape[0], 1, 1, seq, dtype=torch.bool)
    if valid_lens is not None:
        start = 0 if text_first else seq - text_len
        for b, n in enumerate(valid_lens):
            mask[b, ..., start + n:start + text_len] = False
    out = F.scaled_dot_product_attention(*(t.transpose(1, 2).double() for t in (q, k, v)), attn_mask=mask)
    return out.transpose(1, 2)


def expected_error(q, k, v, call, rows, norms=False):
    """The relative error of the visual ``rows`` of ``call.window.grid`` under ``call`` (or, with
    ``norms``, its two squared norms)."""
    sparse = reference_joint_attention(q.double(), k.double(), v.double(), call)
    full = dense(q, k, v, call.text_len, call.text_first, call.text_valid_lens)
    start = call.visual_slice.start
    squared_error = (sparse - full)[:, start + rows].square().sum().item()
    squared_dense = full[:, start + rows].square().sum().item()
    return (squared_error, squared_dense) if norms else math.sqrt(squared_error / squared_dense)
