# One image for every Larza process; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY stations stations
COPY ingest ingest
COPY detection detection
COPY api api
RUN pip install --no-cache-dir . && useradd --system larza
USER larza
ENTRYPOINT ["larza"]
