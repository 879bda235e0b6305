"""Every criterion class of torch.nn.modules.loss has a jaxnn class of the same name and
constructor signature; any class a new torch adds fails here until it is ported or
explicitly excluded below."""

import inspect

import pytest
import torch.nn.functional as TF
import torch.nn.modules.loss as torch_loss

import jaxnn

# torch criterion classes deliberately without a jaxnn counterpart, with the reason.
EXCLUDED: set[str] = set()

# Criteria that own parameters take jaxnn's layer arguments (rngs, dtype) instead of
# torch's (device, dtype); their other arguments must match torch's.
LAYER_ARGUMENTS = {"device", "dtype", "rngs"}


def _torch_criteria() -> list[str]:
    """Public criterion classes defined in torch.nn.modules.loss (subclasses of its _Loss)."""
    return sorted(
        name
        for name, obj in vars(torch_loss).items()
        if inspect.isclass(obj)
        and issubclass(obj, torch_loss._Loss)
        and obj.__module__ == torch_loss.__name__
        and not name.startswith("_")
    )


TORCH_CRITERIA = _torch_criteria()
PORTED = [name for name in TORCH_CRITERIA if name not in EXCLUDED]


def test_torch_lists_its_criteria():
    # guards the discovery itself: if it found nothing, the checks below would pass vacuously
    assert {"L1Loss", "CrossEntropyLoss", "CTCLoss", "TripletMarginWithDistanceLoss"} <= set(TORCH_CRITERIA)
    assert len(PORTED) >= 22


def test_every_torch_criterion_has_a_jaxnn_class():
    missing = [name for name in PORTED if not inspect.isclass(getattr(jaxnn, name, None))]
    assert not missing, f"torch criteria without a jaxnn class: {missing}"


def test_exclusions_are_real_torch_classes_not_ported():
    assert EXCLUDED <= set(TORCH_CRITERIA), f"stale exclusions: {EXCLUDED - set(TORCH_CRITERIA)}"
    assert not any(hasattr(jaxnn, name) for name in EXCLUDED)


@pytest.mark.parametrize("name", PORTED)
def test_constructor_signature_matches_torch(name):
    def parameters(cls):
        return [
            (p.name, p.default, p.kind)
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name not in LAYER_ARGUMENTS
        ]

    assert parameters(getattr(jaxnn, name)) == parameters(getattr(torch_loss, name))


@pytest.mark.parametrize("name", [n for n in PORTED if n != "LinearCrossEntropyLoss"])
def test_class_calls_torchs_functional_name(name):
    # (LinearCrossEntropyLoss is a layer owning its linear weight; tests/nn/test_linear_cross_entropy.py)
    # the functional form each class dispatches to carries torch's name
    function = getattr(jaxnn, name)._function
    assert callable(getattr(TF, function, None)), f"{name} calls {function!r}, unknown to torch.nn.functional"


def test_nllloss2d_is_an_alias_of_nllloss():
    assert issubclass(jaxnn.NLLLoss2d, jaxnn.NLLLoss)
    assert issubclass(torch_loss.NLLLoss2d, torch_loss.NLLLoss)
    assert jaxnn.NLLLoss2d._function == jaxnn.NLLLoss._function == "nll_loss"
