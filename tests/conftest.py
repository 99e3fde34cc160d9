import pytest

from lossviz.data import Dataset, load_bundled


@pytest.fixture(scope="session")
def bundled():
    return load_bundled()


@pytest.fixture(scope="session")
def small_set(bundled):
    """512 training digits and 200 test digits: enough to see learning within seconds."""
    return Dataset("small", bundled.class_names, bundled.train_images[:512],
                   bundled.train_labels[:512], bundled.test_images[:200], bundled.test_labels[:200])
