"""The API's handlers, one module per part (as moby's ``api/server/router/*``); each module
declares its routes with :func:`dockerlab.daemon.router.route` and is imported by the
router when the first request comes."""
