"""Docker's word processing for Dockerfile instructions (moby/buildkit ``shell/lex.go``).

``process_word("${A:-x}/$B", env)`` expands variables the way the classic builder does:

    $NAME  ${NAME}              the value, "" when unset
    ${NAME:-word}  ${NAME-word}  word when unset (``:-``: or empty)
    ${NAME:+word}  ${NAME+word}  word when set (``:+``: and not empty), else ""
    ${NAME:?msg}   ${NAME?msg}   an error when unset (``:?``: or empty)
    'single'                     literal; "double" expands, escapes only " $ and the escape
    \\x (escape char)             x literally

Quotes are removed. Only some instructions are processed (see :data:`SUBSTITUTED`); RUN, CMD,
ENTRYPOINT, SHELL and HEALTHCHECK are left to the container's shell.
"""

from __future__ import annotations

from collections.abc import Mapping

# Instructions whose arguments the builder expands (moby's replaceEnvAllowed).
SUBSTITUTED = frozenset(
    {
        "add",
        "copy",
        "env",
        "expose",
        "from",
        "label",
        "stopsignal",
        "user",
        "volume",
        "workdir",
        "arg",
    }
)


class SubstitutionError(ValueError):
    pass


class _Lexer:
    def __init__(self, word: str, env: Mapping[str, str], escape: str) -> None:
        self.s, self.i, self.env, self.esc = word, 0, env, escape

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def run(self, stop: str = "") -> str:
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.peek()
            if stop and ch == stop:
                self.i += 1
                return "".join(out)
            if ch == "'":
                out.append(self.single())
            elif ch == '"':
                out.append(self.double())
            elif ch == "$":
                out.append(self.dollar())
            else:
                self.i += 1
                if ch == self.esc:
                    nxt = self.next()
                    if nxt == "":
                        continue  # an escape at the end of the word is dropped
                    out.append(nxt)
                else:
                    out.append(ch)
        if stop:
            raise SubstitutionError(
                f"unexpected end of statement while looking for matching {stop}"
            )
        return "".join(out)

    def single(self) -> str:
        self.i += 1
        end = self.s.find("'", self.i)
        if end < 0:
            raise SubstitutionError(
                "unexpected end of statement while looking for matching single-quote"
            )
        text = self.s[self.i : end]
        self.i = end + 1
        return text

    def double(self) -> str:
        self.i += 1
        out: list[str] = []
        while True:
            ch = self.next()
            if ch == "":
                raise SubstitutionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                return "".join(out)
            if ch == "$":
                self.i -= 1
                out.append(self.dollar())
            elif ch == self.esc:
                nxt = self.peek()
                if nxt == "":
                    continue
                if nxt in ('"', "$", self.esc):
                    out.append(self.next())
                else:
                    out.append(ch)
            else:
                out.append(ch)

    def name(self) -> str:
        start = self.i
        if self.peek().isdigit():
            self.i += 1
            return self.s[start : self.i]
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.i += 1
        return self.s[start : self.i]

    def dollar(self) -> str:
        self.i += 1  # the $
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.env.get(name, "")
        self.i += 1
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        if colon:
            ch = self.next()
        if ch in ("-", "+", "?"):
            word = self.run("}")
            value = self.env.get(name)
            unset = value is None or (colon and value == "")
            if ch == "-":
                return word if unset else value  # type: ignore[return-value]
            if ch == "+":
                return "" if unset else word
            if unset:
                raise SubstitutionError(f"{name}: {word or 'is not allowed to be unset'}")
            return value  # type: ignore[return-value]
        if not name:
            raise SubstitutionError("bad substitution")
        if colon:
            raise SubstitutionError(f"unsupported modifier ({ch}) in substitution")
        raise SubstitutionError("missing ':' in substitution")


def process_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand ``word`` with ``env`` and remove its quotes (Docker's ``ProcessWord``)."""
    return _Lexer(word, env, escape).run()


def split_words(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes (Docker's ``parseWords``)."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur.append(ch)
            if ch == escape and quote == '"' and i + 1 < len(text):
                i += 1
                cur.append(text[i])
            elif ch == quote:
                quote = ""
        elif ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
            if ch == escape and i + 1 < len(text):
                i += 1
                cur.append(text[i])
            elif ch in ("'", '"'):
                quote = ch
        i += 1
    if cur:
        words.append("".join(cur))
    return words
