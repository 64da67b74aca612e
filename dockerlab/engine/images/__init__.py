"""Images: the store, its layers, and every way an image comes in or goes out.

    store.py      ImageStore: an OCI image layout plus Docker's tag file, under the lock
    layers.py     LayerStore: unpacked layers in Docker's overlay2 layout, keyed by ChainID
    reference.py  image references: parse, normalise, print the familiar form
    archive.py    the one tar extractor and the one tar writer of the engine
    inflate.py    bounds on what an archive may expand to
    saveload.py   ``save`` and ``load``: Docker image archives
    bootstrap.py  ``busybox:latest`` from the host's static busybox, with no registry
    distro.py     ``debian``/``ubuntu`` with debootstrap from the host's apt mirror, cached
    labimages.py  the course's ``web`` and ``db``, built from busybox (dockerlab/data/images)
    commit.py     ``commit`` and ``import``: an image from a container's layer or from a tar
    changes.py    what a layer changed: ``diff``, and the layer views the widgets draw
    export.py     ``export``: a container's merged filesystem as one flat tar

On disk (the store's and the layers' docstrings draw each in full)::

    $DOCKERLAB_ROOT/image/            oci-layout, index.json, repositories.json, blobs/sha256/
    $DOCKERLAB_ROOT/overlay/<chain>/  diff/, link, lower, layer.json; l/<short> -> ../<chain>/diff

Images know containers only to refuse removing an image in use, and to read a container's
layer for ``commit``, ``diff`` and ``export``. Nothing is imported here: import the module.
"""
