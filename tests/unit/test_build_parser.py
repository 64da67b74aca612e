"""The Dockerfile parser, substitution and .dockerignore rules (pure, no containers)."""

from __future__ import annotations

import pytest

from dockerlab.engine.build.context import PatternMatcher, human_size, read_dockerignore
from dockerlab.engine.build.parser import DockerfileParseError, parse
from dockerlab.engine.build.shell import SubstitutionError, process_word


def test_continuations_comments_and_escape_directive_are_docker_s():
    df = parse("# escape=`\nFROM busybox AS b\nRUN echo a `\n  # note\n\n  b\n")
    assert df.escape == "`"
    run = df.instructions[1]
    assert (run.cmd, run.args, run.line) == ("run", ["echo a   b"], 3)


def test_exec_and_shell_forms_and_flags():
    df = parse('FROM x\nCMD ["sh", "-c"]\nCOPY --chown=1:2 a b /d/\nENTRYPOINT [bad json\n')
    cmd, copy, ep = df.instructions[1:]
    assert cmd.json and cmd.args == ["sh", "-c"]
    assert copy.flags == {"chown": "1:2"} and copy.args == ["a", "b", "/d/"]
    assert not ep.json and ep.args == ["[bad json"]


def test_env_both_forms():
    df = parse('FROM x\nENV A b c\nENV P=1 Q="two words"\n')
    assert df.instructions[1].args == ["A=b c"]
    assert df.instructions[2].args == ["P=1", 'Q="two words"']


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM x\nRUN true\nFOO bar\n", "dockerfile parse error line 3: unknown instruction: FOO"),
        ("FROM\n", "dockerfile parse error line 1: FROM requires either one or three arguments"),
        ("FROM x\nCOPY a\n", "dockerfile parse error line 2: COPY requires at least two arguments"),
        ("FROM x\nCOPY --nope=1 a b\n", "dockerfile parse error line 2: Unknown flag: nope"),
        ("FROM x\nENV A\n", "dockerfile parse error line 2: ENV must have two arguments"),
    ],
)
def test_syntax_errors_name_the_line(text, message):
    with pytest.raises(DockerfileParseError) as err:
        parse(text)
    assert str(err.value) == message


def test_substitution_rules():
    env = {"A": "1", "E": ""}
    assert process_word("$A-${A}-${B:-x}-${E:-d}-${E-d}-${A:+set}-${B:+no}", env) == "1-1-x-d--set-"
    assert process_word("'$A' \"$A\" \\$A", env) == "$A 1 $A"
    assert process_word("a\\ b", env) == "a b"
    with pytest.raises(SubstitutionError):
        process_word("${B:?missing}", env)


def test_dockerignore_patterns_exceptions_and_double_star():
    m = PatternMatcher(read_dockerignore("# c\n*.log\n!keep.log\n**/tmp\n/build\n"))
    assert m.matches("a.log") and not m.matches("keep.log")
    assert m.matches("x/y/tmp/file") and m.matches("tmp")
    assert m.matches("build/out.o") and not m.matches("src/a.c")


def test_context_size_as_docker_prints_it():
    assert human_size(2048) == "2.048kB"
    assert human_size(512) == "512B"
    assert human_size(1_500_000) == "1.5MB"
