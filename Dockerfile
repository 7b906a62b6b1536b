# Portico: a slim, non-root image. Build: docker build -t portico .
# Run:   docker run -p 3001:3001 -e PORTICO_ENDPOINT=https://auth.example.com \
#          -e DATABASE_URL=postgresql://... -e PORTICO_ENCRYPTION_KEY=... portico
# See docs/deploy.md.

ARG PYTHON_VERSION=3.12

# --- build: install Portico and its dependencies into a virtualenv ---------------------------
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/portico
WORKDIR /src
# Dependencies first, so that a source change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p src/portico && touch src/portico/__init__.py \
    && /opt/portico/bin/pip install . \
    && /opt/portico/bin/pip uninstall -y portico
COPY src ./src
RUN /opt/portico/bin/pip install --no-deps . \
    && /opt/portico/bin/python -m compileall -q /opt/portico/lib

# --- runtime: the virtualenv on a clean slim image, as an unprivileged user ---------------------
FROM python:${PYTHON_VERSION}-slim
RUN groupadd --system --gid 10001 portico \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/portico --create-home \
        --shell /usr/sbin/nologin portico
COPY --from=build /opt/portico /opt/portico
ENV PATH=/opt/portico/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORTICO_HOST=0.0.0.0 \
    PORT=3001 \
    PORTICO_DATA_DIR=/var/lib/portico
USER 10001:10001
WORKDIR /var/lib/portico
EXPOSE 3001
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/status' % os.environ.get('PORT', '3001'), timeout=2)"]
ENTRYPOINT ["portico"]
CMD ["serve"]
