"""The 0.2 re-layout: old module paths still import, as the very same module objects."""

import importlib
import warnings

import pytest

from imagewizard.core.moved import MOVED, new_name


@pytest.mark.parametrize("old", sorted(k for k in MOVED if "." not in k))
def test_old_paths_give_the_module_at_its_new_path(old):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod = importlib.import_module(f"imagewizard.{old}")
    assert mod is importlib.import_module(new_name(f"imagewizard.{old}"))
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_a_submodule_of_a_moved_package_is_not_loaded_twice():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from imagewizard.nn.archs.unet import UNetDenoiser as old
    from imagewizard.models.archs.unet import UNetDenoiser as new

    assert old is new


def test_names_that_did_not_move_are_left_alone():
    assert new_name("imagewizard.api") is None and new_name("imagewizard.io") is None
    assert new_name("imagewizard.nn.zoo") == "imagewizard.models.zoo"
    assert new_name("imagewizard.gen.zoo") == "imagewizard.models.generators"
