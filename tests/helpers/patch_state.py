"""What patch leaves on a model, read without na_accel's own report: the processor objects, the state
attribute and the hooks."""

from na_accel.patching import STATE_ATTRIBUTE


def processors(transformer):
    """Module name -> the processor object, for every module that has one."""
    return {name: m.processor for name, m in transformer.named_modules() if hasattr(m, "processor")}


def assert_untouched(transformer, original_processors):
    """The very same processor objects as before the patch, no patch state, no hooks."""
    assert processors(transformer) == original_processors  # the very same objects
    assert not hasattr(transformer, STATE_ATTRIBUTE)
    assert not transformer._forward_pre_hooks and not transformer._forward_hooks
