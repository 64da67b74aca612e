"""The widgets' words in the notebook's language: English by default, Chinese for the course.

The language is chosen, first match wins, by :func:`set_language` (the course's first cell,
:func:`dockerlab.magics.course.start`, calls ``set_language("zh")``), else the environment
variable ``DOCKERLAB_LANG`` (``zh`` or ``en``; ``zh_CN.UTF-8`` counts as ``zh``), else
English. A widget reads its words when it draws, so set the language before making widgets.
Imports nothing (safe on any path).
"""

from __future__ import annotations

import os

LANGUAGES = ("en", "zh")
_chosen: str | None = None

#: key → (English, Chinese). ``{name}`` fields are filled by :func:`t`.
WORDS: dict[str, tuple[str, str]] = {
    # errors and hints (one line each)
    "error": ("Error", "错误"),
    "is_container": (
        "{ref} is a container, not an image: {widget} needs an image (see docker images)",
        "{ref} 是容器，不是镜像：{widget} 需要镜像（image），见 docker images",
    ),
    "is_image": (
        "{ref} is an image, not a container: {widget} needs a container (see docker ps -a); "
        "make one with docker run --name NAME {ref}",
        "{ref} 是镜像，不是容器：{widget} 需要容器（container），见 docker ps -a；"
        "可先 docker run --name 名字 {ref}",
    ),
    "no_image": (
        "no such image: {ref} (see docker images for the names)",
        "没有这个镜像：{ref}（用 docker images 查看名字）",
    ),
    "no_container": (
        "no such container: {ref} (see docker ps -a for the names)",
        "没有这个容器：{ref}（用 docker ps -a 查看名字）",
    ),
    "image_gone": (
        "the image {ref} is gone (removed since this widget was drawn): run the cell again "
        "once it exists",
        "镜像 {ref} 已不存在（在这个部件显示之后被删除了）：镜像重新存在后再运行这个单元格",
    ),
    "container_gone": (
        "the container {ref} is gone (removed since this widget was drawn): run the cell "
        "again with a container that exists",
        "容器 {ref} 已不存在（在这个部件显示之后被删除了）：换一个存在的容器再运行这个单元格",
    ),
    "monitor_needs": (
        "ResourceMonitor needs at least one container: ResourceMonitor('NAME')",
        "ResourceMonitor 至少需要一个容器：ResourceMonitor('名字')",
    ),
    "no_file": ("no layer of {image} holds {path}", "{image} 的任何一层都没有 {path}"),
    "not_changed": (
        "{path} is not among the container's changes",
        "{path} 不在容器的改动之中",
    ),
    # LayerTree
    "layers_heading": ("<b>Layers</b> (0 = base)", "<b>层（layer）</b>（0 = 最底层）"),
    "this_layer": ("This layer's changes", "这一层的改动"),
    "up_to_it": ("Everything up to it", "到这一层为止的全部文件"),
    "path_contains": ("path contains…", "路径包含…"),
    "pick_path": ("pick or type a file path (Enter)", "选择或输入文件路径（回车）"),
    "layer": ("Layer", "层"),
    "tree_header": (
        "{n} layers ({f} with files), {size}; efficiency <b>{eff} %</b>, wasted <b>{w}</b>",
        "{n} 层（{f} 层有文件），{size}；效率（efficiency）<b>{eff} %</b>，浪费 <b>{w}</b>",
    ),
    "above_base": (
        " ({p} % of the layers above the base)",
        "（占基础层之上各层的 {p} %）",
    ),
    "waste": (
        "Files stored more than once or removed later ({n})",
        "存了不止一次或之后被删除的文件（{n}）",
    ),
    "content": ("Content", "内容"),
    "versions": ("Changes between versions", "各版本之间的改动"),
    # DiffView
    "refresh": ("Refresh", "刷新"),
    "pick_changed": ("pick a changed file", "选择一个改动过的文件"),
    "diff_header": (
        "<b>docker diff</b> — {a} added, {c} changed, {d} removed (against the image's files)",
        "<b>docker diff</b> — 新增 {a}，修改 {c}，删除 {d}（与镜像的文件相比）",
    ),
    "added_empty": ("{path}: added (empty)", "{path}：新增（空文件）"),
    "removed_file": (
        "{path}: removed (the image's version is shown below)",
        "{path}：已删除（下面是镜像里的版本）",
    ),
    "removed_plain": ("{path}: removed", "{path}：已删除"),
    "no_content_diff": ("{path}: {what}, no content diff", "{path}：{what}，没有内容差异可显示"),
    "not_regular": (
        "{path}: not a regular file in the image, no content diff",
        "{path}：在镜像里不是普通文件，没有内容差异可显示",
    ),
    "binary_changed": ("{path}: binary file changed", "{path}：二进制文件被修改"),
    "binary_added": ("{path}: binary file added", "{path}：新增的二进制文件"),
    "same_content": (
        "{path}: same content (only metadata changed)",
        "{path}：内容相同（只改了元数据）",
    ),
    # kinds, as the checkboxes and headings name them
    "added": ("added", "新增"),
    "modified": ("modified", "修改"),
    "removed": ("removed", "删除"),
    "unchanged": ("unchanged", "未变"),
    # HistoryView
    "layer_sizes": ("<b>Layer sizes</b>", "<b>各层大小</b>"),
    # LifecycleView
    "is_state": ("is", "状态："),
    "seen": ("seen", "经历"),
    "working": (
        "docker {cmd}: working…",
        "docker {cmd}：执行中…",
    ),
    "stopping": (
        "docker stop: waiting up to {t} s for the container to exit, then SIGKILL…",
        "docker stop：最多等 {t} 秒让容器退出，之后发 SIGKILL…",
    ),
    # ResourceMonitor
    "pause": ("Pause", "暂停"),
    "resume": ("Resume", "继续"),
    "refresh_every": ("Refresh", "刷新"),
    "every": ("every {s} s", "每 {s} 秒"),
    "paused": ("paused", "已暂停"),
    "live": ("live, every {s} s", "实时，每 {s} 秒"),
    "waiting": (
        "waiting: no container running (follows it when it starts again)",
        "等待中：没有运行中的容器（容器再启动时继续跟踪）",
    ),
    "ended": ("stopped (every container removed)", "已停止（容器都已删除）"),
    "stopped": ("stopped", "已停止"),
    "no_figures": ("no figures yet", "还没有数据"),
    # the console (%docker run -it)
    "type_line": ("type a line, Enter sends it", "输入一行，回车发送"),
    "no_stdin": ("(stdin not attached)", "（未连接标准输入 stdin）"),
    "tab_tip": (
        "send the line typed so far and a Tab (the shell completes it)",
        "发送已输入的内容和 Tab（由 shell 补全）",
    ),
    "esc_tip": ("send Escape (vi, less, …)", "发送 Esc（vi、less 等）"),
    "detach": ("Detach", "分离（Detach）"),
    "detach_tip": (
        "stop watching; the container keeps running",
        "不再查看；容器继续运行",
    ),
    "exited_code": ("exited ({code})", "已退出（{code}）"),
    "detached": ("detached: the container keeps running", "已分离：容器继续运行"),
    "running": ("running", "运行中"),
}


def set_language(language: str) -> None:
    """Use ``language`` ("en" or "zh") for the widgets made from now on."""
    global _chosen
    lang = _normalise(language)
    if lang is None:
        raise ValueError(f"unknown language {language!r}: one of {', '.join(LANGUAGES)}")
    _chosen = lang


def language() -> str:
    """The language in use: :func:`set_language`'s, else ``DOCKERLAB_LANG``'s, else "en"."""
    if _chosen is not None:
        return _chosen
    return _normalise(os.environ.get("DOCKERLAB_LANG", "")) or "en"


def t(key: str, **fields: object) -> str:
    """The words for ``key`` in the current language, with ``fields`` filled in."""
    en, zh = WORDS[key]
    text = zh if language() == "zh" else en
    return text.format(**fields) if fields else text


def _normalise(value: str) -> str | None:
    value = value.strip().lower()
    for lang in LANGUAGES:
        if value == lang or value.startswith(lang + "_") or value.startswith(lang + "-"):
            return lang
    return None
