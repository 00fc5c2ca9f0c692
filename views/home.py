"""Landing page: what transfer learning is, pick a task, one-click sample data; open a saved project or
save this one."""
import streamlit as st

from tlcore.app import plain, project_download, project_upload, setting_widget, workspace

ws = workspace()

TASKS = {"image": "Image classification", "text": "Text classification"}

st.title("Transfer Learning Studio")
st.markdown(
    "Teach a computer to tell your pictures or texts apart, using a network that has already learned to see "
    "or to read. A **pretrained backbone** turns each example into numbers that describe it; you choose how "
    "many of its blocks stay **frozen** and a small new layer learns your classes. Everything runs on this "
    "machine (on its GPU if it has one); nothing is uploaded anywhere."
)

with st.container(border=True):
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Back for another lesson?** Open the `.tlproject` file you saved with **Save project**: your "
                    "data, settings and runs come back, on this machine or another one.")
        project_download(ws, "home-project")
        st.caption("Save project: this session's data, settings and runs in one file." if ws.dataset is not None
                   else "Save project works once you have data.")
    with right:
        project_upload(ws)

st.subheader("1. Pick a task")
task = setting_widget(st.radio, "Task", list(TASKS), key="home_task", setting=ws.task, format_func=TASKS.get,
                      horizontal=True, label_visibility="collapsed")
ws.set_task(task)

st.subheader("2. Bring your examples")
left, right = st.columns(2)
if task == "text":
    with left:
        st.markdown("Upload a **CSV or Excel** file with a text column and a label column, or type a few "
                    "examples for each class in the page.")
        st.page_link("views/1_Data.py", label="Upload my texts", icon=":material/upload:")
    with right:
        st.markdown("No texts at hand? Try 90 short sentences about animals, space and cooking (3 classes) "
                    "that come with the app.")
else:
    with left:
        st.markdown("Upload a zip with **one folder per class**, or add images for each class in the page.")
        st.page_link("views/1_Data.py", label="Upload my images", icon=":material/upload:")
    with right:
        st.markdown("No pictures at hand? Try 400 handwritten digits (10 classes) that come with the app.")
with right:
    if st.button("Load the sample data", icon=":material/auto_awesome:", type="primary"):
        ws.use_sample()
        st.switch_page("views/1_Data.py")

st.subheader("3. Then")
st.markdown(
    "**Model**: choose a backbone and how many blocks to fine-tune · **Train**: watch the curves · "
    "**Evaluate**: AUC with its interval, a confusion matrix you can click, the threshold, the embedding map "
    "and what the model looks at · **Predict**: try new examples and see what the backbone already knew · "
    "**Compare**: runs side by side, or a sweep over trainable blocks."
)
if ws.dataset is not None:
    st.success(f"Data loaded: {plain(ws.data_label)} ({len(ws.dataset)} {ws.dataset.report.unit}s, "
               f"{len(ws.dataset.classes)} classes).")
