"""The console's terminal screen: ANSI colours to HTML spans, line editing, erasing."""

from __future__ import annotations

from dockerlab.magics.ansi import Screen, ansi_to_html, strip_ansi


def test_sgr_colours_become_spans_with_inline_css():
    html = ansi_to_html("\x1b[31mred\x1b[0m plain \x1b[1;32mbold green\x1b[m")
    assert '<span style="color:#cd3131">red</span> plain ' in html
    assert '<span style="color:#0dbc79;font-weight:bold">bold green</span>' in html
    assert "\x1b" not in html


def test_html_special_characters_are_escaped():
    assert ansi_to_html("<b>&</b>") == '<pre class="dockerlab-term">&lt;b&gt;&amp;&lt;/b&gt;</pre>'


def test_256_and_truecolor_foreground_and_background():
    html = ansi_to_html("\x1b[38;5;196ma\x1b[48;2;1;2;3mb\x1b[0m")
    assert "color:#ff0000" in html
    assert "background-color:#010203" in html


def test_carriage_return_overwrites_and_erase_line_clears_the_rest():
    assert strip_ansi("progress 10%\rprogress 100%") == "progress 100%"
    assert strip_ansi("abcdef\r\x1b[Kxy") == "xy"


def test_backspace_and_cursor_left_edit_the_line_as_shells_redraw_it():
    assert strip_ansi("/ # lx\bs\n") == "/ # ls"
    assert strip_ansi("abc\x1b[2Dz") == "azc"


def test_escape_sequence_split_across_feeds_is_kept_until_complete():
    screen = Screen()
    screen.feed("\x1b[3")
    screen.feed("1mred")
    assert screen.text() == "red"
    assert "color:#cd3131" in screen.html()


def test_title_and_mode_sequences_draw_nothing():
    assert strip_ansi("\x1b]0;title\x07\x1b[?2004hok\x1b(B\x1b=") == "ok"


def test_clear_screen_drops_what_was_shown():
    assert strip_ansi("old\n\x1b[H\x1b[2Jnew") == "new"


def test_scrollback_keeps_the_last_lines():
    screen = Screen(max_lines=3)
    screen.feed("\n".join(str(i) for i in range(10)))
    assert screen.text() == "7\n8\n9"


def test_newline_alone_starts_the_next_line_at_column_zero():
    assert strip_ansi("a\nb\r\nc") == "a\nb\nc"
