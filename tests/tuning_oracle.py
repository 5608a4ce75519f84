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


def expected_error(q, k, v, window, extra, text_len, text_first, valid_lens, rows, norms=False):
    """The relative error of the visual ``rows`` (or, with ``norms``, its two squared norms)."""
    sparse = reference_joint_attention(q.double(), k.double(), v.double(), text_len=text_len, text_first=text_first,
                                       window=window, text_valid_lens=valid_lens, extra_windows=extra)
    full = dense(q, k, v, text_len, text_first, valid_lens)
    start = text_len if text_first else 0
    squared_error = (sparse - full)[:, start + rows].square().sum().item()
    squared_dense = full[:, start + rows].square().sum().item()
    return (squared_error, squared_dense) if norms else math.sqrt(squared_error / squared_dense)
