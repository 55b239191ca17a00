#!/usr/bin/env bash
# Start the web server, a Celery worker and beat together; Ctrl-C (or either dying) stops all.
set -euo pipefail
BIN=${BIN:-.venv/bin}
PORT=${PORT:-8000}

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

"$BIN/celery" -A mlops_portal worker --beat --loglevel=INFO --concurrency=2 \
  --schedule="${VAR_DIR:-var}/celerybeat-schedule" &
pids+=($!)

echo
echo "  MLOps portal: http://127.0.0.1:${PORT}/   (sign in as admin / admin)"
echo "  API docs:     http://127.0.0.1:${PORT}/api/docs/"
echo "  Press Ctrl-C to stop the server and the worker."
echo
"$BIN/python" manage.py runserver "127.0.0.1:${PORT}" --noreload &
pids+=($!)

# Stop everything as soon as one of them exits.
wait -n
