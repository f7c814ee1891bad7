"""MiniRocket + ridge kept as numbers (tasks/classification/rocket.py): refitted, saved and read back,
it predicts as aeon's fitted classifier does, univariate and multivariate."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("aeon")

from rnnkit.tasks.classification.rocket import RocketRidge  # noqa: E402


@pytest.mark.parametrize("channels, classes", [(1, 2), (3, 3)])
def test_a_saved_rocket_predicts_as_aeons_fitted_classifier(tmp_path, channels, classes):
    from aeon.classification.convolution_based import MiniRocketClassifier

    from rnnkit.tasks.classification.baselines import fixed_length

    rng = np.random.default_rng(channels)
    y = rng.integers(0, classes, 24)
    x = [rng.standard_normal((channels, int(n))) + y[i] * np.linspace(0, 1, int(n))
         for i, n in enumerate(rng.integers(20, 40, 24))]
    test = [rng.standard_normal((channels, int(n))) for n in rng.integers(5, 50, 9)]     # shorter and longer
    rocket = RocketRidge.fit(x, y, seed=0)
    aeon = MiniRocketClassifier(random_state=0).fit(fixed_length(x, rocket.length), y)
    expected = aeon.predict(fixed_length(test, rocket.length))
    np.testing.assert_array_equal(rocket.predict(test), expected)
    rocket.save(tmp_path / "rocket.safetensors")
    loaded = RocketRidge.load(tmp_path / "rocket.safetensors")
    np.testing.assert_array_equal(loaded.predict(test), expected)
    np.testing.assert_array_equal(loaded.decision(test), rocket.decision(test))
    assert loaded.decision(test).shape == (9, 1 if classes == 2 else classes)
