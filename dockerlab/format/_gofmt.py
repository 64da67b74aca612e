"""Go's `fmt` and `encoding/json` printing of Python values, as text/template shows them.

Python values stand in for Go ones: dict is `map[string]interface {}`, list is
`[]interface {}`, None is nil, float is float64. `NOVALUE` is Go's invalid reflect.Value,
what a missing map key evaluates to; it prints as "<no value>".
"""

from __future__ import annotations

import math
import re
from typing import Any


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


NOVALUE: Any = _NoValue()


def type_name(v: Any) -> str:
    """The Go type a Python value stands for, as Go error messages name it."""
    if v is None or v is NOVALUE:
        return "interface {}"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "[]string" if v and all(isinstance(x, str) for x in v) else "[]interface {}"
    go_type = getattr(v, "go_type", None)  # a context or struct naming its Go type
    if isinstance(go_type, str):
        return go_type
    if isinstance(v, dict):
        return "map[string]interface {}"
    return type(v).__name__


def go_float(f: float) -> str:
    """fmt %v of a float64: shortest digits, %e form when the exponent is < -4 or >= 6."""
    return _shortest(f, 6, "e")


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of abs(f) > 0 and the decimal point position."""
    mant, _, exp = repr(abs(f)).partition("e")
    ip, _, fp = mant.partition(".")
    if ip.strip("0"):
        digits, dp = (ip + fp).lstrip("0"), len(ip.lstrip("0"))
    else:
        digits, dp = fp.lstrip("0"), -(len(fp) - len(fp.lstrip("0")))
    return digits.rstrip("0") or "0", dp + int(exp or 0)


def _shortest(f: float, eprec: int, e: str, small: int = -4) -> str:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    sign = "-" if f < 0 else ""
    digits, dp = _digits(f)
    x = dp - 1
    if x < small or x >= eprec:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}{e}{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def go_str(v: Any) -> str:
    """fmt.Sprint of one value (%v): maps as map[k:v] with sorted keys, lists as [a b]."""
    if isinstance(v, str):
        return v
    if v is None:
        return "<nil>"
    if v is NOVALUE:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(v[k])}" for k in sorted_keys(v)) + "]"
    return str(v)


def sorted_keys(d: dict) -> list:
    """Go sorts map keys when printing and ranging; mixed key types fall back to text order."""
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=str)


_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t",
            "\v": r"\v", '"': r"\"", "\\": r"\\"}  # fmt: skip


def go_quote(s: str) -> str:
    """strconv.Quote: Go double-quoted string with Go escapes."""
    out = ['"']
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


# --- fmt.Sprintf -----------------------------------------------------------------------------

_VERB_RE = re.compile(r"%([-+# 0]*)(\*|[0-9]+)?(?:\.(\*|[0-9]*))?(.?)", re.DOTALL)

# Go's fmt.tooLarge: widths and precisions beyond 10^6 are refused, so a template cannot
# ask for a gigabyte of padding per row.
_MAX_WIDTH = 1_000_000

#: The most one Sprintf may build: far above any real row (Go's own widths stop near
#: 10^7), low enough that many verbs in one format cannot add up to gigabytes.
MAX_SPRINTF = 64 << 20


class OutputTooLarge(ValueError):
    """A template or printf result would pass its size limit."""


def _parsenum(digits: str) -> int | None:
    """fmt.parsenum: None when the number overflows (checked before each further digit)."""
    num = 0
    for ch in digits:
        if num > _MAX_WIDTH:
            return None
        num = num * 10 + ord(ch) - 48
    return num


def _int_arg(args: list[Any], i: int) -> int | None:
    """fmt.intFromArg: the int argument for a `*`, or None when it is not one or too large."""
    if i >= len(args):
        return None
    v = args[i]
    if not isinstance(v, int) or isinstance(v, bool) or abs(v) > _MAX_WIDTH:
        return None
    return v


def _bad(verb: str, v: Any) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(v)}={go_str(v)})"


def _pad(s: str, flags: str, width: int | None, zero_ok: bool) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s.ljust(width)
    if "0" in flags and zero_ok:
        sign = s[0] if s[:1] in "+-" and s[:1] else ""
        return sign + s[len(sign) :].rjust(width - len(sign), "0")
    return s.rjust(width)


def _fmt_one(verb: str, flags: str, width: int | None, prec: int | None, v: Any) -> str:
    if isinstance(v, (list, tuple)) and verb not in "vT":
        return "[" + " ".join(_fmt_one(verb, flags, width, prec, x) for x in v) + "]"
    is_int = isinstance(v, int) and not isinstance(v, bool)
    num = is_int or isinstance(v, float)
    sign = "+" if "+" in flags else (" " if " " in flags else "")
    if verb == "v":
        s = go_str(v)
        if isinstance(v, float) and prec is not None:
            s = f"{v:{sign}.{prec}g}"
        elif num and sign and v >= 0:
            s = sign + s
    elif verb == "T":
        s = "<nil>" if v is None else type_name(v)
    elif verb == "s":
        if v is None or isinstance(v, (bool, int, float)):
            return _bad(verb, v)
        s = go_str(v)
        s = s if prec is None else s[:prec]
    elif verb == "q":
        if isinstance(v, str):
            s = go_quote(v)
        elif is_int:
            s = "'" + chr(v) + "'"
        else:
            return _bad(verb, v)
    elif verb == "d":
        if not is_int:
            return _bad(verb, v)
        s = f"{v:{sign}d}"
    elif verb in "xX":
        if is_int:
            s = f"{v:{sign}{'#' if '#' in flags else ''}{verb}}"
        elif isinstance(v, str):
            s = v.encode().hex()
            s = s.upper() if verb == "X" else s
        else:
            return _bad(verb, v)
    elif verb in "ob" and is_int:
        s = f"{v:{sign}{verb}}"
    elif verb == "c" and is_int:
        s = chr(v) if 0 <= v <= 0x10FFFF and not 0xD800 <= v < 0xE000 else "\ufffd"
    elif verb == "t":
        if not isinstance(v, bool):
            return _bad(verb, v)
        s = "true" if v else "false"
    elif verb in "eEfFgG" and isinstance(v, float):
        if verb in "gG" and prec is None:
            s = _shortest(v, 6, "e")
            s = (s.upper() if verb == "G" else s) if "e" in s else s
            s = (sign + s) if sign and v >= 0 else s
        else:
            s = f"{v:{sign}.{6 if prec is None else prec}{verb}}"
    else:
        return _bad(verb, v)
    return _pad(s, flags, width, num)


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf for the common verbs (%v %s %d %q %x %f %e %g %t %c %T %%), flags, width
    and precision (literal or `*`), refusing too large ones as Go does."""
    out: list[str] = []
    size = 0
    argi = 0
    pos = 0
    for m in _VERB_RE.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width_s, prec_s, verb = m.groups()
        if verb == "%" and not width_s and prec_s is None:
            out.append("%")
            continue
        width: int | None = None
        if width_s == "*":
            width = _int_arg(args, argi)
            argi += 1
            if width is None:
                out.append("%!(BADWIDTH)")
            elif width < 0:
                flags, width = flags + "-", -width
        elif width_s:
            width = _parsenum(width_s)
            if width is None:  # Go gives up on the rest of the format
                out.append("%!(NOVERB)")
                pos = len(fmt)
                break
        precision: int | None = None
        if prec_s == "*":
            precision = _int_arg(args, argi)
            argi += 1
            if precision is not None and precision < 0:
                precision = None
            if precision is None:
                out.append("%!(BADPREC)")
        elif prec_s is not None:
            precision = _parsenum(prec_s or "0")
            if precision is None:
                out.append("%!(NOVERB)")
                pos = len(fmt)
                break
        if verb == "%":
            out.append("%")
            continue
        if not verb:
            out.append("%!(NOVERB)")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        piece = _fmt_one(verb, flags, width, precision, args[argi])
        size += len(piece)
        if size > MAX_SPRINTF:
            raise OutputTooLarge(f"printf result exceeds {MAX_SPRINTF >> 20} MiB")
        out.append(piece)
        argi += 1
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{type_name(a)}={go_str(a)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def sprint(args: list[Any]) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    out: list[str] = []
    for i, a in enumerate(args):
        if i > 0 and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(a))
    return "".join(out)


# --- encoding/json ---------------------------------------------------------------------------


# Go's encodeState.string with EscapeHTML off: quotes, backslashes, controls, U+2028/9.
_JSON_ESC_RE = re.compile(r'[\x00-\x1f"\\\u2028\u2029]')
_JSON_SHORT = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def _json_escape(m: re.Match) -> str:
    ch = m.group()
    return _JSON_SHORT.get(ch) or f"\\u{ord(ch):04x}"


def _json_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"json: unsupported value: {go_float(f)}")
    # Go: 'f' format unless the exponent is < -6 or >= 21, then e-notation with no padding.
    text = _shortest(f, 21, "e", small=-6)
    return text[:-2] + text[-1] if text[-4:-1] == "e-0" else text  # e-07 -> e-7


def _public_fields(obj: Any) -> dict[str, Any]:
    """An object's exported fields, as Go's json.Marshal sees a struct: capitalised names
    only (a context's own state, ``_c`` or ``trunc``, stays out), methods with arguments
    (``Label``) left out."""
    names = {n for n in dir(type(obj)) if isinstance(getattr(type(obj), n, None), property)}
    names.update(getattr(obj, "__dict__", {}))
    fields = {}
    for name in names:
        if not name[:1].isupper():
            continue
        value = getattr(obj, name)
        if not callable(value):
            fields[name] = value
    return fields


_HTML_RE = re.compile(r"[<>&]")


def to_json(v: Any, html: bool = False) -> str:
    """json.Marshal with SetEscapeHTML(false): compact, map keys sorted, 1.0 as 1.

    Objects marshal as a map of their exported attributes and properties, like the docker
    CLI's formatter contexts, whose MarshalJSON is a plain json.Marshal: inside one, ``<``,
    ``>`` and ``&`` are escaped (``"\\u003cnone\\u003e"``), as Docker prints them.
    """
    if v is None or v is NOVALUE:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _json_float(v)
    if isinstance(v, str):
        text = _JSON_ESC_RE.sub(_json_escape, v)
        if html:
            text = _HTML_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        return '"' + text + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(to_json(x, html) for x in v) + "]"
    if isinstance(v, dict):
        return (
            "{"
            + ",".join(f"{to_json(str(k), html)}:{to_json(v[k], html)}" for k in sorted_keys(v))
            + "}"
        )
    go_json = getattr(v, "_go_json", None)  # a Go struct's own field names and order
    if go_json is not None:
        return str(go_json())
    return to_json(_public_fields(v), html=True)


class Struct(dict):
    """A dict a template sees as a Go struct of type ``go_type``: a field it lacks is an
    error (``can't evaluate field Nope in type system.dockerInfo``), not ``<no value>``.
    ``fields`` types nested dicts by key."""

    go_type = "struct"

    def __init__(self, data: dict[str, Any], go_type: str, fields: dict[str, str] | None = None):
        super().__init__(data)
        self.go_type = go_type
        for key, sub in (fields or {}).items():
            if isinstance(self.get(key), dict):
                self[key] = Struct(self[key], sub)
