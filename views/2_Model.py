"""Model: what the data suggests, the best start measured on it, then pick a pretrained backbone, how
many of its blocks train, and the head."""
import hashlib

import pandas as pd
import streamlit as st

from tlcore import get_backbone_info, list_backbones
from tlcore.app import (
    HEADS, advice_section, backbone_title, cached_freeze_summary, count_for_people, head_choices, need_data, user_file_path, workspace,
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
name = st.selectbox("Backbone", names, index=names.index(current), format_func=backbone_title)
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
    k = st.slider("Trainable blocks from the top", 0, info.num_blocks,
                  min(ws.config.trainable_blocks, info.num_blocks),
                  help="0 = feature extractor: the backbone stays frozen and only the new layer learns (fast, "
                       "good with few examples). More blocks = fine-tuning: slower, can fit your data better.")
    if ws.task == "text":
        st.caption("A text model's blocks are its word embeddings and its transformer layers, counted from the top.")

heads = head_choices(k)
head = ws.config.head if ws.config.head in heads else "linear"
head = st.selectbox("Head (the new layer that learns your classes)", heads, index=heads.index(head),
                    format_func=HEADS.get,
                    help="The scikit-learn heads need a frozen backbone (0 trainable blocks); their "
                         "probabilities are calibrated so AUC stays meaningful.")
ws.update_config(backbone=name, trainable_blocks=k, head=head, word_vectors_file=word_vectors_file)

if not info.classic:
    summary = cached_freeze_summary(name, k, len(ws.dataset.classes), head)
    c1, c2 = st.columns(2)
    c1.metric("Frozen parameters", count_for_people(summary.frozen_params))
    c2.metric("Trainable parameters", count_for_people(summary.trainable_params))
    if k == 0:
        st.caption("Feature extractor: the backbone runs once per example and the new layer trains on the results.")
    else:
        st.caption(f"Fine-tuning the top {k} of {info.num_blocks} blocks; they learn 10x slower than the new layer.")
    st.dataframe(pd.DataFrame(summary.rows()), hide_index=True)
st.page_link("views/3_Train.py", label="Next: train", icon=":material/arrow_forward:")
