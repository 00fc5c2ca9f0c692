"""Model: pick a pretrained backbone and how many of its blocks train."""
import pandas as pd
import streamlit as st

from tlcore import get_backbone_info, list_backbones
from tlcore.ui import backbone_title, cached_freeze_summary, need_data, workspace

st.set_page_config(page_title="Model", page_icon=":material/neurology:", layout="wide")
ws = workspace()
st.title("Model")
if need_data(ws):
    st.stop()

backbones = list_backbones(modality="image")
st.dataframe(
    pd.DataFrame([{
        "backbone": b.name, "name": b.title, "parameters (millions)": round(b.num_params / 1e6, 1),
        "input size": f"{b.preprocessing.input_size}px", "blocks": b.num_blocks,
        "works offline": "yes" if b.offline else "no: downloads on first use", "source": b.source,
    } for b in backbones]),
    hide_index=True,
)
names = [b.name for b in backbones]
name = st.selectbox("Backbone", names, index=names.index(ws.config.backbone), format_func=backbone_title)
info = get_backbone_info(name)
if not info.offline:
    st.warning(f"{info.title} weights are not on this machine yet. They download on first use "
               "(this needs an internet connection); EfficientNet-Lite0 works offline.")

k = st.slider("Trainable blocks from the top", 0, info.num_blocks, min(ws.config.trainable_blocks, info.num_blocks),
              help="0 = feature extractor: the backbone stays frozen and only the new layer learns (fast, "
                   "good with few images). More blocks = fine-tuning: slower, can fit your pictures better.")
ws.update_config(backbone=name, trainable_blocks=k)

summary = cached_freeze_summary(name, k, len(ws.dataset.classes))
c1, c2 = st.columns(2)
c1.metric("Frozen parameters", f"{summary.frozen_params:,}")
c2.metric("Trainable parameters", f"{summary.trainable_params:,}")
if k == 0:
    st.caption("Feature extractor: the backbone runs once per image and the new layer trains on the results.")
else:
    st.caption(f"Fine-tuning the top {k} of {info.num_blocks} blocks; they learn 10x slower than the new layer.")
st.dataframe(
    pd.DataFrame([{"block": n, "parameters": p, "state": "trains" if t else "frozen"} for n, p, t in summary.blocks]),
    hide_index=True,
)
st.page_link("pages/3_Train.py", label="Next: train", icon=":material/arrow_forward:")
