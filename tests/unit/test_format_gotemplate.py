"""The Go text/template subset renders and fails exactly as docker's --format does."""

import os
import subprocess
import sys

import pytest

from dockerlab.format.gotemplate import TemplateError, parse_format, render


def err(template, data=None):
    with pytest.raises(TemplateError) as exc:
        render(template, {} if data is None else data)
    return str(exc.value)


# --- text, fields and printing ------------------------------------------------------------


def test_plain_text_passes_through():
    assert render("hello\tworld\n", {}) == "hello\tworld\n"


def test_field_paths_look_up_dict_keys_then_attributes():
    class Obj:
        Name = "web"

    data = {"A": {"B": {"C": 3}}, "O": Obj()}
    assert render("{{.A.B.C}} {{.O.Name}} {{ .A.B }}", data) == "3 web map[C:3]"


def test_dot_is_the_data_and_dollar_the_root():
    assert render("{{.}}", "x") == "x"
    assert render("{{range .L}}{{$.Root}}{{.}}{{end}}", {"L": [1, 2], "Root": "r"}) == "r1r2"


def test_missing_dict_key_prints_no_value_and_chains_quietly():
    assert render("{{.Missing}}|{{.Missing.Deeper}}", {}) == "<no value>|<no value>"


def test_values_print_as_go_prints_them():
    data = {"N": None, "T": True, "F": False, "I": 42, "X": 2.0, "Y": 0.5, "Big": 1e6,
            "L": ["a", "b", 1], "M": {"b": 2, "a": [1, None]}, "E": [], "EM": {}}  # fmt: skip
    out = render(
        "{{.N}} {{.T}} {{.F}} {{.I}} {{.X}} {{.Y}} {{.Big}} {{.L}} {{.M}} {{.E}} {{.EM}}", data
    )
    assert out == "<nil> true false 42 2 0.5 1e+06 [a b 1] map[a:[1 <nil>] b:2] [] map[]"


def test_methods_are_called_with_arguments():
    class Ctx:
        def Label(self, name):
            return {"com.example": "yes"}.get(name, "")

        @property
        def ID(self):
            return "abc"

    assert render('{{.Label "com.example"}}/{{.ID}}', Ctx()) == "yes/abc"


def test_literals_strings_raw_strings_numbers_bools():
    assert render('{{"a\\tb"}}|{{`raw\\n`}}|{{42}}|{{-1}}|{{1.5}}|{{0x1F}}|{{true}}', {}) == (
        "a\tb|raw\\n|42|-1|1.5|31|true"
    )


def test_trim_markers_remove_adjacent_whitespace():
    assert render("a  \n {{- .X -}} \n  b", {"X": 1}) == "a1b"
    assert render("{{- 3}}{{-3}}", {}) == "3-3"


def test_comments_are_dropped():
    assert render("a{{/* note */}}b {{- /* trimmed */ -}} c", {}) == "abc"


# --- pipelines and functions -----------------------------------------------------------------


def test_pipeline_passes_value_as_last_argument():
    assert render('{{.X | printf "%s-%s" "a"}}', {"X": "b"}) == "a-b"
    assert render("{{.Name | upper | lower}}", {"Name": "MiXed"}) == "mixed"


def test_json_is_compact_sorted_and_not_html_escaped():
    data = {"b": [1, 2.5, None], "a": "<x&y>", "c": {"z": True, "y": 1.0}}
    assert render("{{json .}}", data) == '{"a":"<x&y>","b":[1,2.5,null],"c":{"y":1,"z":true}}'
    assert render("{{json .S}}", {"S": "ubuntu"}) == '"ubuntu"'


def test_docker_string_functions():
    data = {"L": ["a", "b"], "S": "a:b:c"}
    assert (
        render('{{join .L ", "}}|{{split .S ":"}}|{{len (split .S ":")}}', data) == "a, b|[a b c]|3"
    )
    assert render('{{lower "ABC"}} {{upper "abc"}} {{title "hello big-world"}}', {}) == (
        "abc ABC Hello Big-World"
    )
    assert render('{{truncate "abcdef" 3}}|{{truncate "ab" 3}}', {}) == "abc|ab"
    assert render('[{{pad "x" 1 2}}][{{pad "" 1 2}}]', {}) == "[ x  ][]"


def test_builtin_functions():
    data = {"L": [10, 20], "M": {"k": "v"}, "S": "héllo"}
    assert render('{{index .L 1}} {{index .M "k"}} {{len .L}} {{len .S}}', data) == "20 v 2 6"
    assert render('{{index .M "nope"}}|{{slice .L 1}}', data) == "|[20]"
    assert render('{{print "a" 1 2 "b"}}|{{println "x" 1}}', {}) == "a1 2b|x 1\n"
    assert render(
        '{{printf "%d %5s|%-4s|%q %v %.2f %x"  7 "ab" "c" "q" .L 3.14159 255}}', data
    ) == ('7    ab|c   |"q" [10 20] 3.14 ff')
    assert render('{{printf "%d" "x"}}|{{printf "%s"}}', {}) == "%!d(string=x)|%!s(MISSING)"


def test_comparisons_and_logic():
    data = {"A": 1, "S": "x"}
    out = render('{{eq .A 1}} {{eq .S "y" "x"}} {{ne .A 2}} {{lt .A 2}} {{le 2 2}} {{gt .S "a"}} '
                 "{{ge 1 2}} {{not .A}} {{and .A .S}} {{and 0 .S}} {{or 0 .S}} {{or 0 \"\"}}", data)  # fmt: skip
    assert out == "true true true true true true false false x 0 x "


# --- control structures ----------------------------------------------------------------------


def test_if_else_if_else():
    t = "{{if .A}}a{{else if .B}}b{{else}}c{{end}}"
    assert [render(t, d) for d in ({"A": 1}, {"B": 1}, {})] == ["a", "b", "c"]


def test_if_treats_go_zero_values_as_false():
    for falsy in (0, 0.0, "", [], {}, None, False):
        assert render("{{if .X}}t{{else}}f{{end}}", {"X": falsy}) == "f"
    assert render("{{if .Missing}}t{{else}}f{{end}}", {}) == "f"


def test_range_rebinds_dot_and_supports_else_and_variables():
    assert render("{{range .}}<{{.}}>{{end}}", ["a", "b"]) == "<a><b>"
    assert render("{{range .L}}x{{else}}none{{end}}", {"L": []}) == "none"
    assert render("{{range .L}}x{{else}}none{{end}}", {"L": None}) == "none"
    assert render("{{range $i, $e := .}}{{$i}}={{$e}} {{end}}", ["a", "b"]) == "0=a 1=b "
    assert render("{{range $k, $v := .}}{{$k}}={{$v}} {{end}}", {"b": 2, "a": 1}) == "a=1 b=2 "
    assert render("{{range $e := .}}{{$e}}{{end}}", [1, 2]) == "12"


def test_range_break_and_continue():
    t = "{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}"
    assert render(t, [1, 2, 3, 4, 5]) == "13"


def test_with_rebinds_dot_only_when_true():
    t = "{{with .A}}{{.B}}{{else}}none{{end}}"
    assert render(t, {"A": {"B": "b"}}) == "b"
    assert render(t, {}) == "none"


def test_variables_declare_and_assign():
    assert render("{{$x := .A}}{{$x}}{{$x = 2}}{{$x}}", {"A": 1}) == "12"
    assert render("{{if $v := .A}}{{$v}}{{end}}", {"A": "got"}) == "got"


def test_parenthesised_pipeline_with_field_chain():
    assert render("{{(index .L 0).Name}}", {"L": [{"Name": "n"}]}) == "n"


# --- errors (Go's messages, docker's prefix) --------------------------------------------------


def test_unknown_function_is_a_parse_error():
    assert err("{{foo}}") == 'template parsing error: template: :1: function "foo" not defined'


def test_template_error_is_a_value_error_with_go_detail():
    with pytest.raises(ValueError) as exc:
        render("{{foo}}", {})
    assert exc.value.detail == 'template: :1: function "foo" not defined'


@pytest.mark.parametrize(
    ("template", "detail"),
    [
        ("{{.A", "template: :1: unclosed action"),
        ("{{if .A}}x", "template: :1: unexpected EOF"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{else}}", "template: :1: unexpected {{else}}"),
        ("{{}}", "template: :1: missing value for command"),
        ("{{if}}{{end}}", "template: :1: missing value for if"),
        ("a\n{{.A #}}", "template: :2: bad character U+0023 '#'"),
        ('{{"abc}}', "template: :1: unterminated quoted string"),
        ("{{$y}}", 'template: :1: undefined variable "$y"'),
        ('{{.A | "x"}}', "template: :1: non executable command in pipeline stage 2"),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
        ("{{/* x", "template: :1: unclosed comment"),
    ],
)
def test_parse_errors_carry_gos_message(template, detail):
    assert err(template) == f"template parsing error: {detail}"


@pytest.mark.parametrize(
    ("template", "data", "detail"),
    [
        ("{{nil}}", {}, 'template: :1:2: executing "" at <nil>: nil is not a command'),
        ("{{.S.X}}", {"S": "s"},
         'template: :1:4: executing "" at <.S.X>: can\'t evaluate field X in type string'),
        ("{{.N.X}}", {"N": None},
         'template: :1:4: executing "" at <.N.X>: nil pointer evaluating interface {}.X'),
        ("x {{index .L 5}}", {"L": [1]},
         'template: :1:4: executing "" at <index .L 5>: error calling index: index out of range: 5'),
        ("{{join .L}}", {"L": []},
         'template: :1:2: executing "" at <join>: wrong number of args for join: want 2 got 1'),
        ("{{lower .N}}", {"N": 5},
         'template: :1:8: executing "" at <.N>: wrong type for value; expected string; got int'),
        ('{{truncate .S "5"}}', {"S": "s"},
         'template: :1:14: executing "" at <"5">: expected integer; found "5"'),
        ("{{range .S}}{{end}}", {"S": "str"},
         'template: :1:8: executing "" at <.S>: range can\'t iterate over str'),
        ("{{.A 1}}", {"A": 1}, 'template: :1:2: executing "" at <.A>: A is not a method but has arguments'),
        ('{{eq 1 "a"}}', {},
         'template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison'),
        ("a\n  {{.X.Y}}", {"X": 1},
         'template: :2:6: executing "" at <.X.Y>: can\'t evaluate field Y in type int'),
    ],
)  # fmt: skip
def test_execution_errors_carry_line_column_and_node(template, data, detail):
    assert err(template, data) == f"template parsing error: {detail}"


# --- parse_format ---------------------------------------------------------------------------


def test_parse_format_strips_table_and_expands_escapes():
    assert parse_format(r"table {{.ID}}\t{{.Names}}") == (True, "{{.ID}}\t{{.Names}}")
    assert parse_format(r"{{.ID}}\n") == (False, "{{.ID}}\n")
    assert parse_format("table") == (True, "")
    assert parse_format("  {{.ID}} ") == (False, "{{.ID}}")
    assert parse_format("json") == (False, "{{json .}}")


def test_json_numbers_and_escapes_follow_encoding_json():
    data = {"a": 1e21, "b": 1e-7, "c": 1e20, "d": 0.000001, "e": -0.0, "s": "tab\there\u2028\x01"}
    assert render("{{json .}}", data) == (
        '{"a":1e+21,"b":1e-7,"c":100000000000000000000,"d":0.000001,"e":-0,'
        '"s":"tab\\there\\u2028\\u0001"}'
    )


def test_printf_reports_extra_arguments_like_go():
    assert render('{{printf "%s" "a" 1 nil}}', {}) == "a%!(EXTRA int=1, <nil>)"


# --- inputs that cost far more than they look ------------------------------------------------

# Address space a render may take in the child below: the interpreter and dockerlab.format
# need ~40 MB; a single gigabyte-wide printf row (the attack) cannot fit.
_AS_LIMIT = 384 << 20


def render_limited(template: str) -> subprocess.CompletedProcess:
    """Render in a child whose address space is capped, so an attack fails fast with
    MemoryError instead of building gigabytes here."""
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({_AS_LIMIT}, {_AS_LIMIT}))\n"
        "from dockerlab.format.gotemplate import TemplateError, render\n"
        "try:\n"
        "    out = render(sys.argv[1], {})\n"
        "except TemplateError as exc:\n"
        "    print('ERR', exc)\n"
        "else:\n"
        "    print('OK', len(out), out[:80])\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, template],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.getcwd(),
    )


def test_printf_refuses_a_gigabyte_width_as_go_does():
    res = render_limited('{{printf "%999999999d" 1}}')
    assert res.returncode == 0, res.stderr[-500:]
    assert res.stdout == "OK 25 %!(NOVERB)%!(EXTRA int=1)\n"
    res = render_limited('{{printf "%.999999999f" 1.5}}')
    assert res.stdout == "OK 31 %!(NOVERB)%!(EXTRA float64=1.5)\n", res.stderr[-500:]


def test_printf_star_width_and_precision_follow_go():
    assert render('{{printf "%*d|%.*f|%*d|" 3 1 2 3.14159 -4 5}}', {}) == "  1|3.14|5   |"
    assert render('{{printf "%*d" 99999999 1}}', {}) == "%!(BADWIDTH)1"
    assert render('{{printf "%*d" "x" 1}}', {}) == "%!(BADWIDTH)1"
    assert render('{{printf "%.*d" -1 1}}', {}) == "%!(BADPREC)1"
    # Go checks before each further digit: 10^6 followed by one digit still parses
    assert len(render('{{printf "%1000000d" 1}}', {})) == 1_000_000
    assert render('{{printf "%c" 99999999}}', {}) == "\ufffd"


@pytest.mark.parametrize(
    "template, detail",
    [
        (
            '{{printf "%10000000d%10000000d%10000000d%10000000d%10000000d%10000000d%10000000d"'
            " 1 2 3 4 5 6 7}}",
            "error calling printf: printf result exceeds 64 MiB",
        ),
        ('{{range 100}}{{printf "%10000000d" 1}}{{end}}', "template output exceeds 64 MiB"),
        ("{{range 100000}}{{range 100000}}xx{{end}}{{end}}", "exceeds 1000000 evaluation steps"),
        ("{{range 1000000000}}{{end}}", "exceeds 1000000 evaluation steps"),
        ('{{pad "a" 999999999 1}}', "error calling pad: padding exceeds 64 MiB"),
    ],
)
def test_templates_that_would_build_gigabytes_stop_with_an_error(template, detail):
    res = render_limited(template)
    assert res.returncode == 0, res.stderr[-500:]
    assert res.stdout.startswith("ERR template parsing error: template: :1:"), res.stdout
    assert detail in res.stdout
