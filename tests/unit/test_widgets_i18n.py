"""The widgets' language: English by default, DOCKERLAB_LANG, set_language, course.start."""

from __future__ import annotations

import pytest

from dockerlab.widgets import i18n


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv("DOCKERLAB_LANG", raising=False)
    i18n._chosen = None
    yield
    i18n._chosen = None


def test_english_by_default_then_the_environment_then_the_call(monkeypatch):
    assert i18n.language() == "en"
    assert i18n.t("removed") == "removed"
    monkeypatch.setenv("DOCKERLAB_LANG", "zh_CN.UTF-8")
    assert i18n.language() == "zh" and i18n.t("removed") == "删除"
    i18n.set_language("en")
    assert i18n.language() == "en"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        i18n.set_language("fr")


def test_every_entry_has_both_languages_with_the_same_fields():
    import string

    for key, (en, zh) in i18n.WORDS.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(en) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(zh) if f}, key
        assert en and zh, key


def test_the_chinese_hint_for_a_container_given_as_an_image():
    i18n.set_language("zh")
    text = i18n.t("is_container", ref="ch1-box", widget="LayerTree")
    assert text.startswith("ch1-box 是容器，不是镜像：LayerTree 需要镜像（image）")


def test_importing_the_table_loads_no_widgets():
    import subprocess
    import sys

    code = "import sys, dockerlab.widgets.i18n; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_course_start_speaks_chinese(tmp_path, monkeypatch):
    """course.start() sets the widgets' language (its clean-up fails harmlessly on an empty
    root with no busybox to make: the language is set before)."""
    import dockerlab.magics.course as course

    class Boom(Exception):
        pass

    def fail(*_a, **_k):
        raise Boom

    monkeypatch.setattr(course, "_clean", fail)
    monkeypatch.setattr(course, "_images", lambda _e: [])
    monkeypatch.setenv("DOCKERLAB_ROOT", str(tmp_path))
    course.start(root=tmp_path / "root")
    assert i18n.language() == "zh"


def test_the_package_offers_set_language_without_loading_widgets():
    import subprocess
    import sys

    code = (
        "import sys; from dockerlab.widgets import set_language; set_language('zh'); "
        "from dockerlab.widgets.i18n import language; "
        "print(language(), 'ipywidgets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["zh", "False"]
