"""Storage drivers: how a container's root filesystem is made from its image's layers.

    drivers.py   which driver a state root uses: chosen once (probed, or asked for with
                 ``--storage-driver`` / ``$DOCKERLAB_STORAGE_DRIVER``), kept in
                 ``$DOCKERLAB_ROOT/storage.json``, so one store never mixes drivers
    fuse.py      ``fuse-overlayfs``: the overlay mounted by the FUSE program, where the
                 kernel refuses an overlay mount (a user namespace, a state root on overlay)
    usage.py     a container's own layer's size (SizeRw), whatever the driver
    vfs.py       ``vfs``: each container's root a full copy of its image's layers; changes
                 found by comparing it with those layers

Image layers are the same for every driver (``overlay/<chain>/diff``, overlay whiteouts);
only a container's own folder differs::

    overlay2, fuse-overlayfs   overlay/<id>/{diff,work,merged}   merged: the mount
    vfs                        overlay/<id>/merged               a full copy (bound on itself
                                                                 while it runs, for pivot_root)

Nothing is imported here: import the module.
"""
