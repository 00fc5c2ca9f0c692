"""Model: what the data suggests, the best start measured on it, then pick a pretrained backbone, how
many of its blocks train, and the head."""
import hashlib

import pandas as pd
import streamlit as st

from tlcore import get_backbone_info, list_backbones
from tlcore.app import (
    HEADS, advice_section, backbone_title, cached_freeze_summary, count_for_people, head_choices, need_data,
    setting_widget, user_file_path, workspace,
)

ws = workspace()
st.title("Model")
if need_data(ws):
    st.stop()

advice_section(ws)
backbones = list_backbones(modality=ws.task)
st.dataframe(
    pd.DataFrame([{
        "backbone": b.name, "name": b.title,
        "parameters": count_for_people(b.num_params) if b.num_params else "fitted on your data",
        "input": f"{b.preprocessing.input_size}px" if b.modality == "image" else
                 (f"up to {b.max_length} tokens" if b.max_length else "words"),
        "blocks": b.num_blocks, "works offline": "yes" if b.offline else "no: downloads on first use",
        "source": b.source,
    } for b in backbones]),
    hide_index=True,
)
names = [b.name for b in backbones]
current = ws.config.backbone if ws.config.backbone in names else names[0]
name = setting_widget(st.selectbox, "Backbone", names, key="model_backbone", setting=current,
                      format_func=backbone_title)
info = get_backbone_info(name)
if not info.offline:
    bundled = next(b.title for b in backbones if b.offline)
    st.warning(f"{info.title} weights are not on this machine yet. They download on first use "
               f"(this needs an internet connection); {bundled} works offline.")

word_vectors_file = None
if info.classic:
    st.info("A classic method, for comparison: nothing pretrained to fine-tune, so only the new layer learns. "
            "Compare its AUC with a transformer's to see what transfer learning adds.", icon=":material/school:")
    k = 0
    if name == "word-vectors":
        glove = st.file_uploader("Optional: your own GloVe-format word vectors (.txt)", type=["txt"],
                                 key="model_glove",
                                 help="One word per line followed by its numbers. Without a file, the "
                                      "bundled MiniLM's own word vectors are used.")
        if glove is not None:
            data = glove.getvalue()
            word_vectors_file = str(user_file_path(f"{hashlib.sha1(data).hexdigest()[:16]}.txt", data))
else:
    feature_block = None
    if info.modality == "image":
        last = info.num_blocks
        kept_block = ws.config.feature_block if ws.config.backbone == name else None  # another backbone's blocks
        chosen = setting_widget(
            st.select_slider, "Features from block", list(range(1, last + 1)), key="model_feature_block",
            setting=kept_block if kept_block and kept_block <= last else last,
            format_func=lambda b: f"{b} ({info.block_names[b - 1]}{', the last' if b == last else ''})",
            help="The new layer learns from the pooled output of this block; the blocks above it are dropped. The "
                 "last block (the default) suits photos like ImageNet's; an earlier one can suit data that looks "
                 "nothing like it (scans, X-rays, drawings). The layer sweep on Compare measures each block.")
        feature_block = None if chosen == last else chosen
    kept = info.kept_blocks(feature_block)
    k = setting_widget(st.slider, "Trainable blocks from the top", 0, kept, key="model_trainable_blocks",
                       setting=min(ws.config.trainable_blocks, kept),
                       help="0 = feature extractor: the backbone stays frozen and only the new layer learns (fast, "
                            "good with few examples). More blocks = fine-tuning: slower, can fit your data better.")
    if ws.task == "text":
        st.caption("A text model's blocks are its word embeddings and its transformer layers, counted from the top.")

heads = head_choices(k)
head = ws.config.head if ws.config.head in heads else "linear"
head = setting_widget(st.selectbox, "Head (the new layer that learns your classes)", heads, key="model_head",
                      setting=head, format_func=HEADS.get,
                    help="The scikit-learn heads need a frozen backbone (0 trainable blocks); their "
                         "probabilities are calibrated so AUC stays meaningful.")
ws.update_config(backbone=name, trainable_blocks=k, head=head, word_vectors_file=word_vectors_file,
                 feature_block=None if info.classic else feature_block)

if not info.classic:
    summary = cached_freeze_summary(name, feature_block, k, len(ws.dataset.classes), head)
    c1, c2 = st.columns(2)
    c1.metric("Frozen parameters", count_for_people(summary.frozen_params))
    c2.metric("Trainable parameters", count_for_people(summary.trainable_params))
    if k == 0:
        st.caption("Feature extractor: the backbone runs once per example and the new layer trains on the results.")
    else:
        st.caption(f"Fine-tuning the top {k} of {kept} blocks: the new layer learns first on the frozen backbone, "
                   "then the blocks join it, learning 10x slower than it.")
    st.dataframe(pd.DataFrame(summary.rows()), hide_index=True)
st.page_link("views/3_Train.py", label="Next: train", icon=":material/arrow_forward:")
