"""The Data page's rows of classes (a name, then images or typed examples): how many there are and what
was typed in them, kept in the workspace. Streamlit forgets a widget's value once its page is left;
these rows bring it back, so a page switch or a refresh loses no class name and no typed example."""
from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st


@dataclass
class ClassRows:
    """How many class rows the page shows, and the text typed in each of their widgets, by widget key."""

    count: int = 2
    typed: dict[str, str] = field(default_factory=dict)

    def text(self, widget, key: str, **options) -> str:
        """`widget(key=key, **options)` (st.text_input or st.text_area) showing again what was typed in it."""
        if key not in st.session_state and key in self.typed:
            st.session_state[key] = self.typed[key]
        self.typed[key] = widget(key=key, **options)
        return self.typed[key]

    def add(self) -> None:
        self.count += 1
