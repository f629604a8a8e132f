# One image for every Larza process; docker-compose.yml picks the command.
#
# The processes run as the unprivileged user larza. The application (/app and the installed
# packages) belongs to root and is read-only to them; what they write has absolute paths of
# its own, made here for larza: /var/lib/larza (the SDS archive at /var/lib/larza/archive,
# a volume the worker writes and the API reads; an SQLite database when no
# LARZA_DATABASE_URL is given) and matplotlib's cache (the API's plots).
# tests/test_image.py runs docker-compose.yml's commands the way this image does, without
# Docker: it reads this file and the compose file, so neither can drift from the test.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LARZA_DATABASE_URL=sqlite:////var/lib/larza/larza.sqlite \
    LARZA_ARCHIVE_DIR=/var/lib/larza/archive \
    MPLCONFIGDIR=/var/cache/larza/matplotlib
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY stations stations
COPY ingest ingest
COPY detection detection
COPY api api
# The versions the test suite passed with (constraints.txt), not whatever is newest today.
RUN pip install --no-cache-dir -c constraints.txt . \
 && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin larza \
 && install -d -o larza -g larza /var/lib/larza /var/lib/larza/archive /var/cache/larza/matplotlib
USER larza
# matplotlib's font cache, built once here rather than by the API's first plot.
RUN python -c "import matplotlib.font_manager"
ENTRYPOINT ["larza"]
