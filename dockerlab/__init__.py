"""dockerlab: a Jupyter-native lab for Docker, over a real container engine in Python."""

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # noqa: ANN001 - IPython's hook
    """``%load_ext dockerlab``: registers ``%docker`` and ``%%dockerfile``
    (:mod:`dockerlab.magics`; IPython is imported only now)."""
    from dockerlab.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):  # noqa: ANN001
    from dockerlab.magics import unload_ipython_extension as unload

    unload(ipython)
