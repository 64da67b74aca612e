"""Listings as Docker 20.10 answers them: `ps -f` (values checked with the daemon's words,
before/since cutting the newest-first list), prune filters, `--format` contexts (exactly
Docker's JSON keys, a missing field fails), and the commands dockerlab does not have yet."""

from __future__ import annotations

import io
import json

import pytest

from dockerlab.cli import main, parser, render
from dockerlab.engine.filters import (
    IMAGE_PRUNE_FILTERS,
    VOLUME_PRUNE_FILTERS,
    dangling_only,
    prune_matcher,
    select_containers,
    timestamp,
)
from dockerlab.errors import InvalidParameter, NotFound
from dockerlab.format._gofmt import Struct
from dockerlab.format.gotemplate import Template, TemplateError

ZERO = "0001-01-01T00:00:00Z"


class Fake:
    """What select_containers reads of a Container."""

    def __init__(self, cid, name, status="running", code=0, labels=None, image="sha256:b",
                 started="2026-01-01", mounts=(), network="none", exposed=None):  # fmt: skip
        self.id, self.name = cid, "/" + name
        self.running = status in ("running", "paused", "restarting")
        self.state = {"Status": status, "ExitCode": code, "StartedAt": started}
        self.config = {
            "Image": image,
            "Config": {"Labels": labels or {}, "ExposedPorts": exposed or {}},
            "HostConfig": {"NetworkMode": network},
            "MountPoints": list(mounts),
        }


# newest first, as the engine hands them over
ALL = [
    Fake("d4", "delta", "created", started=ZERO),
    Fake("c3", "gamma", "exited", 3, labels={"tier": "db"}),
    Fake(
        "b2",
        "beta",
        labels={"tier": "web"},
        image="sha256:child",
        mounts=[{"Name": "data", "Destination": "/data", "Type": "volume"}],
    ),  # fmt: skip
    Fake("b1", "alpha", "exited", 0, exposed={"80/tcp": {}}),
]


def names(items):
    return [c.name[1:] for c in items]


def ps(filters, all=True, limit=-1, images=None):
    return names(select_containers(ALL, filters, all, limit, images))


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"status": ["bogus"]}, "Invalid filter 'status=bogus'"),
        ({"status": [""]}, "Invalid filter 'status='"),
        ({"nope": ["1"]}, "Invalid filter 'nope'"),
        ({"dangling": ["true"]}, "Invalid filter 'dangling'"),
        ({"is-task": ["maybe"]}, "Invalid filter 'is-task=[maybe]'"),
        ({"health": ["bogus"]}, "Unrecognised filter value for health: bogus"),
        ({"exited": ["abc"]}, 'strconv.Atoi: parsing "abc": invalid syntax'),
        (
            {"publish": ["bogus/xx"]},
            'error while looking up for publish bogus/xx: strconv.ParseUint: parsing "bogus": '
            "invalid syntax",
        ),
        ({"expose": ["1:2"]}, "filter for 'expose' should not contain ':': 1:2"),
        (
            {"publish": ["90-80"]},
            "error while looking up for publish 90-80: Invalid range specified for the Port: 90-80",
        ),
    ],
)
def test_ps_filter_values_are_checked_with_the_daemons_words(filters, message):
    with pytest.raises(InvalidParameter) as exc:
        select_containers([], filters)
    assert str(exc.value) == message


def test_before_and_since_name_a_container_that_must_exist():
    with pytest.raises(NotFound, match="^no such container nosuch$"):
        select_containers(ALL, {"since": ["nosuch"]})


def test_name_is_a_regular_expression_searched_in_the_name_with_and_without_slash():
    assert ps({"name": ["^(alpha|beta)$"]}) == ["beta", "alpha"]
    assert ps({"name": ["et"]}) == ["beta"]
    assert ps({"name": ["/alpha"]}) == ["alpha"]
    assert ps({"name": ["["]}) == []  # a pattern that does not compile matches nothing


def test_id_is_a_unique_prefix_or_nothing():
    assert ps({"id": ["b2"]}) == ["beta"]
    assert ps({"id": ["b"]}) == []  # ambiguous: Docker's prefix index finds none
    assert ps({"id": ["b", "c"]}) == ["gamma"]


def test_before_and_since_cut_the_newest_first_list():
    assert ps({"before": ["gamma"]}) == ["beta", "alpha"]
    assert ps({"since": ["beta"]}) == ["delta", "gamma"]
    assert ps({"since": ["alpha"], "before": ["delta"]}) == ["gamma", "beta"]
    assert ps({"since": ["alpha"]}, all=False) == ["beta"]  # still running ones only


def test_status_lists_stopped_ones_without_all_and_exited_needs_a_start():
    assert ps({"status": ["created", "exited"]}, all=False) == ["delta", "gamma", "alpha"]
    assert ps({"exited": ["0"]}) == ["alpha"]  # delta (created, code 0) never ran
    assert ps({"exited": ["3"]}, all=False) == []


def test_labels_volumes_networks_ports_health_and_tasks():
    assert ps({"label": ["tier"]}) == ["gamma", "beta"]
    assert ps({"label": ["tier", "tier=db"]}) == ["gamma"]  # every label holds
    assert ps({"volume": ["data"]}) == ps({"volume": ["/data"]}) == ["beta"]
    assert ps({"network": ["none"]}) == names(ALL)
    assert ps({"network": ["bridge"]}) == []
    assert ps({"expose": ["80"]}) == ps({"expose": ["79-81/tcp"]}) == ["alpha"]
    assert ps({"publish": ["80"]}) == []
    assert ps({"health": ["none"]}) == names(ALL)
    assert ps({"health": ["healthy"]}) == []
    assert ps({"is-task": ["false"]}) == names(ALL)
    assert ps({"is-task": ["true"]}) == []
    assert ps({"isolation": ["default"]}) == names(ALL)


def test_limit_counts_what_is_kept():
    assert ps({"label": ["tier"]}, all=False, limit=1) == ["gamma"]


class Lineage:
    parents = {"sha256:child": "sha256:b", "sha256:grandchild": "sha256:child"}

    def resolve(self, ref):
        if ref == "nosuch":
            raise NotFound("No such image: nosuch:latest")
        return {"busybox": "sha256:b", "app": "sha256:child"}.get(ref, ref)

    def children(self, image_id):
        return [c for c, p in self.parents.items() if p == image_id]


def test_ancestor_takes_in_the_images_built_on_it():
    assert ps({"ancestor": ["busybox"]}, images=Lineage()) == names(ALL)
    assert ps({"ancestor": ["app"]}, images=Lineage()) == ["beta"]
    assert ps({"ancestor": ["nosuch"]}, images=Lineage()) == []


def test_prune_filters():
    match = prune_matcher({"until": ["1000"], "label": ["a"]}, IMAGE_PRUNE_FILTERS)
    assert match({"a": "1"}, 999) and not match({"a": "1"}, 1001) and not match({}, 1)
    unwanted = prune_matcher({"label!": ["a=1"]}, VOLUME_PRUNE_FILTERS)
    assert unwanted({}, 0) and unwanted({"a": "2"}, 0) and not unwanted({"a": "1"}, 0)
    with pytest.raises(InvalidParameter, match="^Invalid filter 'until'$"):
        prune_matcher({"until": ["1h"]}, VOLUME_PRUNE_FILTERS)
    with pytest.raises(InvalidParameter, match='^failed to parse value as time or duration: "x"$'):
        prune_matcher({"until": ["x"]}, IMAGE_PRUNE_FILTERS)
    with pytest.raises(InvalidParameter, match="^more than one until filter specified$"):
        prune_matcher({"until": ["1h", "2h"]}, IMAGE_PRUNE_FILTERS)
    assert dangling_only({"dangling": ["true"]}) and not dangling_only({"dangling": ["true", "0"]})


def test_timestamps_as_docker_reads_them():
    assert timestamp("1h30m", now=10000.0) == 10000.0 - 5400
    assert timestamp("1700000000.5") == 1700000000.5
    assert timestamp("2024-01-02T03:04:05Z") == 1704164645.0


# ---- templates ----------------------------------------------------------------------------

CONTAINER = {"Id": "a" * 64, "Names": ["/web"], "Image": "busybox", "Command": "sh",
             "Created": 0, "State": "running", "Status": "Up", "SizeRw": 12,
             "SizeRootFs": 4_260_000}  # fmt: skip
PS_KEYS = ["Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names",
           "Networks", "Platform", "Ports", "RunningFor", "Size", "State", "Status"]  # fmt: skip


def keys(row):
    return sorted(json.loads(Template("{{json .}}").execute(row)))


def test_json_of_a_context_has_exactly_dockers_keys():
    assert keys(render.PsRow(CONTAINER)) == PS_KEYS
    image = render.image_rows([{"Id": "sha256:" + "b" * 64, "RepoTags": ["x:1"], "Size": 1}])
    assert keys(image[0]) == ["Containers", "CreatedAt", "CreatedSince", "Digest", "ID",
                              "Repository", "SharedSize", "Size", "Tag", "UniqueSize",
                              "VirtualSize"]  # fmt: skip
    assert keys(render.VolumeRow({"Name": "v"})) == ["Availability", "Driver", "Group", "Labels",
                                                     "Links", "Mountpoint", "Name", "Scope",
                                                     "Size", "Status"]  # fmt: skip
    history = render.HistoryRow({"Id": "<missing>"})
    assert keys(history) == ["Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"]


def test_json_of_a_context_escapes_html_as_dockers_marshaljson():
    row = render.image_rows([{"Id": "sha256:" + "b" * 64}])[0]
    assert '"Digest":"\\u003cnone\\u003e"' in Template("{{json .}}").execute(row)
    assert Template("{{json .Digest}}").execute(row) == '"<none>"'


def test_ps_size_shows_the_virtual_size():
    assert render.PsRow(CONTAINER).Size == "12B (virtual 4.26MB)"


@pytest.mark.parametrize(
    ("data", "template", "detail"),
    [
        (render.PsRow(CONTAINER), "{{.Nope}}",
         "can't evaluate field Nope in type *formatter.ContainerContext"),
        (render.PsRow(CONTAINER), "{{.trunc}}",  # a context's own state is no field
         "can't evaluate field trunc in type *formatter.ContainerContext"),
        (Struct({"Swarm": {}}, "system.dockerInfo", {"Swarm": "swarm.Info"}), "{{.Nope}}",
         "can't evaluate field Nope in type system.dockerInfo"),
    ],
)  # fmt: skip
def test_a_field_a_context_lacks_is_an_error(data, template, detail):
    with pytest.raises(TemplateError) as exc:
        Template(template).execute(data)
    assert exc.value.detail.endswith(detail)


def test_inspect_maps_say_map_has_no_entry_and_chains_point_at_their_first_field():
    with pytest.raises(TemplateError) as exc:
        Template("{{.State.Nope}}").execute({"State": {}}, missingkey_error=True)
    assert exc.value.detail == (
        'template: :1:8: executing "" at <.State.Nope>: map has no entry for key "Nope"'
    )
    assert Template("{{.Nope}}").execute({}) == "<no value>"  # other maps: Go's default


class Engine:
    def inspect(self, ref):
        return {"Id": ref, "State": {"Status": "running"}}

    def image_inspect(self, ref):
        raise NotFound(f"No such image: {ref}")

    def containers(self, **kw):
        return []

    def info(self):
        return {"OSType": "linux", "Swarm": {"LocalNodeState": "inactive"}}

    def version(self):
        return {"Version": "0.1.0", "ApiVersion": "1.44"}


def run(*argv):
    from dockerlab.cli.commands import Context

    out, err = io.StringIO(), io.StringIO()
    original = Context.engine
    Context.engine = property(lambda self: Engine())
    try:
        code = main(list(argv), out=out, err=err)
    finally:
        Context.engine = original
    return code, out.getvalue(), err.getvalue()


def test_template_errors_exit_as_dockers_cli():
    assert run("inspect", "-f", "{{.Nope}}", "web") == (
        1, "",
        'template parsing error: template: :1:2: executing "" at <.Nope>: '
        'map has no entry for key "Nope"\n',
    )  # fmt: skip
    assert run("inspect", "-f", "{{.State.Status", "web")[0] == 64
    assert run("info", "-f", "{{.OSType")[0] == 64
    assert run("info", "-f", "{{.Swarm.Nope}}") == (
        1, "",
        'template: :1:8: executing "" at <.Swarm.Nope>: can\'t evaluate field Nope in type '
        "swarm.Info\n",
    )  # fmt: skip
    # ps tries its template before listing: the error shows with no containers
    assert run("ps", "--format", "{{.Nope}}") == (
        1, "",
        'failed to execute template: template: :1:2: executing "" at <.Nope>: can\'t evaluate '
        "field Nope in type *formatter.ContainerContext\n",
    )  # fmt: skip
    assert run("ps", "--format", "{{.ID")[2] == (
        "failed to parse template: template: :1: unclosed action\n"
    )
    # version's template is named "version", over Docker's versionInfo
    assert run("version", "-f", "{{.Client.Nope}}") == (
        1, "",
        'template: version:1:9: executing "version" at <.Client.Nope>: can\'t evaluate field '
        "Nope in type system.clientVersion\n",
    )  # fmt: skip
    assert run("version", "-f", "{{.Nope") == (
        64,
        "",
        "template parsing error: template: version:1: unclosed action\n",
    )
    client = json.loads(run("version", "-f", "{{json .Client}}")[1])
    assert sorted(client) == ["ApiVersion", "Arch", "BuildTime", "Context", "DefaultAPIVersion",
                              "GitCommit", "GoVersion", "Os", "Version"]  # fmt: skip


# ---- commands dockerlab does not have yet ---------------------------------------------------


@pytest.mark.parametrize("path", sorted(parser.NOT_YET))
def test_each_missing_command_says_so_with_a_pointer(path):
    if path.split()[0] in parser.COMMANDS or path in parser.COMMANDS:
        pytest.skip(f"{path} has landed: drop its NOT_YET row")
    code, out, err = run(*path.split(), "x")
    assert code == 1 and out == ""
    first, pointer = err.rstrip("\n").split("\n")
    assert first == f"dockerlab: `{path}` is not available in dockerlab yet."
    assert pointer == parser.NOT_YET[path]


def test_a_typo_keeps_dockers_message_and_help_lists_what_exists():
    assert run("psx")[2] == "dockerlab: 'psx' is not a dockerlab command.\nSee 'dockerlab --help'\n"
    help_text = run("--help")[1]
    listed = {line.split()[0] for line in help_text.splitlines() if line.startswith("  ")}
    assert "swarm" not in listed and "network" in listed  # (pull exists since issue 11)
    assert {"ps", "image", "container", "volume", "system", "run"} <= listed
