# JupyterHub for a dockerlab classroom: one single-user server per student, run as that student
# (LocalProcessSpawner), each using rootless dockerlab with a store of its own under its home.
# Start it as root from the install (see deploy/jupyterhub/README.md):
#   /opt/dockerlab/.venv/bin/jupyterhub -f /opt/dockerlab/deploy/jupyterhub/jupyterhub_config.py
# Settings read from the environment (all optional):
#   DOCKERLAB_HUB_STATE     folder for the hub's database, cookie secret and pid files
#                           (/srv/jupyterhub; made 0700)
#   DOCKERLAB_HUB_IP/PORT   where students connect (127.0.0.1:8000)
#   DOCKERLAB_HUB_SSL_CERT/KEY  TLS for that port (PEM files): passwords cross the network
#   DOCKERLAB_STUDENTS      the Unix group allowed to log in (students; scripts/add-students.sh)
#   DOCKERLAB_HUB_ADMINS    comma-separated admin accounts (none)
#   DOCKERLAB_COURSE        the notebooks copied to each student on the first start
#                           (<install>/notebooks)
import os
import pathlib

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (JupyterHub's config loader)

INSTALL = pathlib.Path(__file__).resolve().parents[2]  # the dockerlab tree: deploy/jupyterhub/..
VENV = INSTALL / ".venv"
STATE = pathlib.Path(os.environ.get("DOCKERLAB_HUB_STATE", "/srv/jupyterhub"))
STATE.mkdir(mode=0o700, parents=True, exist_ok=True)

# -- where it listens: the proxy is configurable-http-proxy from npm, installed by setup.sh
#    inside the venv (node_modules under .venv/hub-proxy), not globally
c.JupyterHub.ip = os.environ.get("DOCKERLAB_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("DOCKERLAB_HUB_PORT", "8000"))
if os.environ.get("DOCKERLAB_HUB_SSL_CERT"):
    c.JupyterHub.ssl_cert = os.environ["DOCKERLAB_HUB_SSL_CERT"]
    c.JupyterHub.ssl_key = os.environ["DOCKERLAB_HUB_SSL_KEY"]
c.ConfigurableHTTPProxy.command = [str(VENV / "bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# -- who logs in: the machine's own accounts and passwords (PAM), members of the students'
#    group only. scripts/add-students.sh makes such accounts, with the subordinate ID ranges
#    rootless dockerlab maps into each student's containers.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {os.environ.get("DOCKERLAB_STUDENTS", "students")}
c.Authenticator.admin_users = {
    a.strip() for a in os.environ.get("DOCKERLAB_HUB_ADMINS", "").split(",") if a.strip()
}

# -- each student's server: run as the student (the hub, as root, switches to the account),
#    from the shared venv, starting in ~/dockerlab-course. singleuser.sh (run as the student)
#    copies the course there on the first start, then starts jupyterhub-singleuser.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(INSTALL / "deploy" / "jupyterhub" / "singleuser.sh")]
c.Spawner.notebook_dir = "~/dockerlab-course"
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    # the venv first (`dockerlab`, `jupyter`), then the system's (newuidmap for rootless mode)
    "PATH": f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "DOCKERLAB_VENV": str(VENV),
    "DOCKERLAB_COURSE": os.environ.get("DOCKERLAB_COURSE", str(INSTALL / "notebooks")),
}
# the first start copies the course and may compile the kernel's imports: give it time
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
