"""Landing page: what transfer learning is, pick a task, one-click sample data."""
import streamlit as st

from tlcore.ui import workspace

st.set_page_config(page_title="Transfer Learning Studio", page_icon=":material/school:", layout="wide")
ws = workspace()

st.title("Transfer Learning Studio")
st.markdown(
    "Teach a computer to tell your pictures apart, using a network that has already learned to see. "
    "A **pretrained backbone** turns each picture into numbers that describe it; you choose how many "
    "of its blocks stay **frozen** and a small new layer learns your classes. Everything runs on this "
    "machine (on its GPU if it has one); nothing is uploaded anywhere."
)

st.subheader("1. Pick a task")
task = st.radio("Task", ["Image classification", "Text classification (coming soon)"], index=0,
                horizontal=True, label_visibility="collapsed")
if task.startswith("Text"):
    st.info("Text classification is on its way. For now, pick image classification.")
    st.stop()

st.subheader("2. Bring your examples")
left, right = st.columns(2)
with left:
    st.markdown("Upload a zip with **one folder per class**, or add images for each class in the page.")
    st.page_link("pages/1_Data.py", label="Upload my images", icon=":material/upload:")
with right:
    st.markdown("No pictures at hand? Try 400 handwritten digits (10 classes) that come with the app.")
    if st.button("Load the sample data", icon=":material/auto_awesome:", type="primary"):
        ws.use_sample()
        st.switch_page("pages/1_Data.py")

st.subheader("3. Then")
st.markdown(
    "**Model**: choose a backbone and how many blocks to fine-tune · **Train**: watch the curves · "
    "**Evaluate**: AUC, ROC curves, confusion matrix, every prediction · **Predict**: try new pictures "
    "and save the model."
)
if ws.dataset is not None:
    st.success(f"Data loaded: {ws.data_label} ({len(ws.dataset)} images, {len(ws.dataset.classes)} classes).")
