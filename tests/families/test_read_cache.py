"""``TensorReadCache`` reads a tensor once: again for another tensor, an in-place edit, other arguments."""

import copy
import gc

import torch

from na_accel.families.read_cache import TensorReadCache


def _counting():
    reads = []

    def read(tensor, *args):
        reads.append(args)
        return float(tensor.sum()) + sum(args)

    return TensorReadCache(read), reads


def test_the_same_tensor_is_read_once():
    cache, reads = _counting()
    ids = torch.ones(3)
    assert cache(ids) == cache(ids) == 3.0
    assert len(reads) == 1


def test_an_edit_in_place_another_tensor_or_other_arguments_read_again():
    cache, reads = _counting()
    ids = torch.ones(3)
    cache(ids)
    ids.add_(1)  # the version counter moves
    assert cache(ids) == 6.0
    assert cache(torch.ones(3)) == 3.0  # equal values, another tensor
    assert cache(torch.ones(3), 2) == 5.0
    assert len(reads) == 4


def test_an_inference_tensor_is_cached_on_its_identity():
    cache, reads = _counting()
    with torch.inference_mode():
        ids = torch.ones(2)
    assert cache(ids) == cache(ids) == 2.0
    assert len(reads) == 1


def test_a_freed_tensor_is_never_mistaken_for_a_new_one():
    cache, reads = _counting()
    cache(torch.ones(2))
    gc.collect()
    assert cache(torch.full((2,), 2.0)) == 4.0  # a new tensor, perhaps at the freed one's address
    assert len(reads) == 2


def test_a_copy_starts_empty_and_reads_afresh():
    cache, reads = _counting()
    ids = torch.ones(2)
    cache(ids)
    clone = copy.deepcopy(cache)
    assert clone._cache is None
    assert clone(ids) == 2.0
