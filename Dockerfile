# The hub's image. Two stages: `build` installs the package into a virtualenv,
# the runtime stage copies only that virtualenv onto a fresh base (no pip cache,
# no sources, no build files) and runs it as an unprivileged user.
#
#   docker build -t switchboard .
#   docker run -p 8080:8080 -e OPENAI_API_KEY switchboard   # secrets: environment only
#
# BASE is any Debian-like image with Python 3.11+ and `python3 -m venv`; the
# default is the public slim image. `make image-test` builds on a local one.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/switchboard
# The dependencies first, from pyproject.toml alone: this layer is rebuilt only
# when they change, not on every edit of the code.
COPY pyproject.toml /src/
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']))" > /src/requirements.txt \
 && /opt/switchboard/bin/pip install --quiet -r /src/requirements.txt
# Then the project: every package pyproject.toml lists (.dockerignore keeps
# tests, benches, docs, caches and secrets out of the context).
COPY . /src
RUN /opt/switchboard/bin/pip install --quiet --no-deps /src \
 && /opt/switchboard/bin/python -m compileall -q /opt/switchboard/lib
# Nothing the hub imports: the libraries' own test suites, litellm's proxy admin
# UI (static files), and pip itself (about 120 MB).
RUN cd /opt/switchboard/lib/python3*/site-packages \
 && rm -rf numpy/tests numpy/*/tests scipy/*/tests scipy/*/*/tests sklearn/tests sklearn/*/tests \
           sklearn/*/*/tests matplotlib/tests pandas/tests litellm/proxy/_experimental/out \
 && /opt/switchboard/bin/pip uninstall --quiet --yes pip setuptools

FROM ${BASE}
ARG UID=10001
RUN useradd --system --uid ${UID} --home-dir /var/lib/switchboard --create-home switchboard
COPY --from=build /opt/switchboard /opt/switchboard
# The shipped config and demo FAQ, so the image runs as it is; a deployment
# mounts its own over them, read-only (deploy/compose.yaml). kb/ stays writable
# by the hub for the help-center index cache (kb/.cache/documents, rebuilt if lost).
COPY --chown=root:root config.toml /etc/switchboard/config.toml
COPY --chown=root:root kb/faq.toml /etc/switchboard/kb/faq.toml
COPY --chown=root:root kb/help /etc/switchboard/kb/help
RUN chown switchboard /etc/switchboard/kb \
 && sed -i 's/^host = "127.0.0.1"/host = "0.0.0.0"/' /etc/switchboard/config.toml
ENV PATH=/opt/switchboard/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    SWITCHBOARD_PORT=8080
USER switchboard
WORKDIR /var/lib/switchboard
EXPOSE 8080
# Healthy once /healthz answers 200 (503 while the LLM tiers still load).
# SWITCHBOARD_PORT must match the port the hub serves on (--port or [server] port).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['SWITCHBOARD_PORT'], timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["hub"]
CMD ["run", "--config", "/etc/switchboard/config.toml"]
