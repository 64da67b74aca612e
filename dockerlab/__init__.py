"""dockerlab: a Jupyter-native lab for Docker, over a real container engine in Python."""

__version__ = "0.1.0"
