"""The app's entry point: `streamlit run app.py`. Names the pages and runs the one the visitor is on."""
import streamlit as st

st.set_page_config(page_title="Transfer Learning Studio", page_icon="🎓", layout="wide")
st.navigation([
    st.Page("views/home.py", title="Home", icon=":material/school:", default=True),
    st.Page("views/1_Data.py", title="Data", icon=":material/upload:"),
    st.Page("views/2_Model.py", title="Model", icon=":material/neurology:"),
    st.Page("views/3_Train.py", title="Train", icon=":material/model_training:"),
    st.Page("views/4_Evaluate.py", title="Evaluate", icon=":material/insights:"),
    st.Page("views/5_Predict.py", title="Predict", icon=":material/online_prediction:"),
    st.Page("views/6_Compare.py", title="Compare", icon=":material/compare:"),
]).run()
