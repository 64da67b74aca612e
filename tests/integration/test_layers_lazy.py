"""A committed layer is registered at once and unpacked on first use, crash-safely."""

from __future__ import annotations

import os

from dockerlab.engine.images.layers import LayerStore


def _top_layer(engine, image):
    chain = engine.image_store.layer_ids(image)
    return chain[-1], LayerStore(engine.paths)


def test_commit_registers_the_layer_and_first_use_unpacks_it(engine):
    cid, att = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", "echo kept > /kept"]})
    att.collect()
    image = engine.commit(cid, "lazy:1")
    chain_id, layers = _top_layer(engine, image)
    folder = layers.dir(chain_id)
    assert os.path.exists(os.path.join(folder, "pending"))
    assert not os.path.exists(os.path.join(folder, "diff", "kept"))
    engine.image_inspect("lazy:1")  # looking does not unpack
    assert os.path.exists(os.path.join(folder, "pending"))
    _, att = engine.run(
        {"Image": "lazy:1", "Cmd": ["cat", "/kept"], "HostConfig": {"AutoRemove": True}}
    )
    assert att.collect()[:2] == (0, b"kept\n")
    assert not os.path.exists(os.path.join(folder, "pending"))
    assert os.path.exists(os.path.join(folder, "diff", "kept"))


def test_an_unpack_cut_short_is_redone_on_the_next_use(engine):
    cid, att = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", "echo kept > /kept"]})
    att.collect()
    image = engine.commit(cid, "lazy:2")
    chain_id, layers = _top_layer(engine, image)
    diff = os.path.join(layers.dir(chain_id), "diff")
    with open(os.path.join(diff, "half-written"), "w") as f:  # what a crash could leave
        f.write("x")
    assert layers.diff_dir(chain_id) == diff
    assert sorted(os.listdir(diff)) == ["kept"]
    assert engine.layer_files("lazy:2", len(engine.image_layers("lazy:2")) - 1)
