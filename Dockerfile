# syntax=docker/dockerfile:1
# One image for every mediawatch service; the command selects it:
#   docker run mediawatch:local tagger run
#   docker run mediawatch:local fetcher run --sources /etc/mediawatch/sources.yaml

# ---- builder: build the wheel and install it with its dependencies into a venv ----------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# The dependencies first, read from pyproject.toml alone: a change to the code reuses this
# layer instead of installing every dependency again.
COPY pyproject.toml README.md ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade pip \
    && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && /opt/venv/bin/pip install -r /tmp/requirements.txt

COPY schemas ./schemas
COPY services ./services
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-deps /wheels/mediawatch-*.whl \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/mediawatch --help >/dev/null

# ---- runtime: the venv only, no compilers, an unprivileged user --------------------------
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="mediawatch" \
      org.opencontainers.image.description="Event-driven media monitoring: fetcher, tagger, alerter" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 mediawatch \
    && useradd --system --uid 10001 --gid mediawatch --no-create-home \
       --home-dir /var/lib/mediawatch --shell /usr/sbin/nologin mediawatch \
    && mkdir -p /var/lib/mediawatch /etc/mediawatch \
    && chown mediawatch:mediawatch /var/lib/mediawatch

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MEDIAWATCH_HTTP_HOST=0.0.0.0 \
    MEDIAWATCH_STATE_DIR=/var/lib/mediawatch

WORKDIR /var/lib/mediawatch
USER 10001:10001
EXPOSE 8081 8082 8083 8084 8085 8090

ENTRYPOINT ["mediawatch"]
CMD ["--help"]
