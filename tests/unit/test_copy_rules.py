"""docker cp's path rules (docker cli cp.go, moby pkg/archive/copy.go), pure."""

from __future__ import annotations

import pytest

from dockerlab.cli.cp import (
    CopyInfo,
    check_args,
    prepare_copy,
    rebase_entry,
    rebase_name,
    split_container_path,
    split_dir_entry,
)
from dockerlab.errors import ClientError


def test_container_path_splits_on_first_colon_unless_local_looking():
    assert split_container_path("web:/etc/hosts") == ("web", "/etc/hosts")
    assert split_container_path("./a:b") == ("", "./a:b")
    assert split_container_path("/tmp/x") == ("", "/tmp/x")
    assert split_container_path("-") == ("", "-")


def test_split_dir_entry_keeps_dot_and_drops_trailing_slash():
    assert split_dir_entry("/a/b/") == ("/a", "b")
    assert split_dir_entry("/a/b/.") == ("/a/b", ".")
    assert split_dir_entry("/a") == ("/", "a")


def test_file_into_existing_directory_keeps_its_name():
    folder, change = prepare_copy(CopyInfo("/src/f"), CopyInfo("/dst", True, True))
    assert (folder, change) == ("/dst", None)


def test_file_to_missing_path_is_renamed_to_it():
    folder, change = prepare_copy(CopyInfo("/src/f", True), CopyInfo("/dst/new"))
    assert (folder, change) == ("/dst", ("f", "new"))


def test_file_to_missing_path_with_trailing_slash_is_no_such_directory():
    with pytest.raises(ClientError, match="^no such directory$"):
        prepare_copy(CopyInfo("/src/f", True), CopyInfo("/dst/new/"))


def test_directory_onto_existing_file_cannot_be_copied():
    with pytest.raises(ClientError, match="^cannot copy directory$"):
        prepare_copy(CopyInfo("/src/d", True, True), CopyInfo("/dst/file", True, False))


def test_directory_to_missing_path_is_created_with_that_name():
    assert prepare_copy(CopyInfo("/src/d", True, True), CopyInfo("/dst/new")) == (
        "/dst",
        ("d", "new"),
    )


def test_directory_dot_content_to_missing_path_with_slash_is_created():
    assert prepare_copy(CopyInfo("/src/d/.", True, True), CopyInfo("/dst/new/")) == (
        "/dst",
        (".", "new"),
    )


def test_file_onto_existing_file_overwrites_it():
    assert prepare_copy(CopyInfo("/src/f", True), CopyInfo("/dst/g", True)) == ("/dst", ("f", "g"))


def test_rebase_replaces_only_the_first_component():
    assert rebase_entry("./a", ".", "new") == "new/a"
    assert rebase_entry("d/d/x", "d", "e") == "e/d/x"


def test_rebase_name_after_following_a_link_keeps_the_asked_name():
    assert rebase_name("/lnk", "/d") == ("/d", "lnk")
    assert rebase_name("/lnk/.", "/d") == ("/d/.", "")
    assert rebase_name("/d", "/d") == ("/d", "")


def test_two_containers_or_none_are_refused_with_dockers_words():
    with pytest.raises(ClientError, match="copying between containers is not supported"):
        check_args("a:/x", "b:/y")
    with pytest.raises(ClientError, match="must specify at least one container source"):
        check_args("/x", "/y")
