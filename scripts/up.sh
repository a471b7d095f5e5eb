#!/usr/bin/env bash
# Brings the whole system up on this machine: npm packages, a build, the Kafka broker (fetched
# from Maven Central on first use), Postgres, and the four services under a supervisor. Prints
# the API docs URL and the operations API key. Stop it with `npm stop`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run/logs
chmod 700 .run   # private: the operations key, the logs, the broker's data

[ -d node_modules ] || npm ci --no-audit --no-fund
echo "building..."
npx tsc -p tsconfig.build.json

bash scripts/kafka.sh start
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL..."
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
fi

export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/clearinghouse}"
export TOPIC_PREFIX="${TOPIC_PREFIX:-ch}"
export PORT="${PORT:-3000}"
# The first operations key: generated once, kept in .run/ops-api-key (hashed in the database),
# mode 0600 in a private (0700) .run (scripts/ops-key.js).
if [ -z "${OPS_API_KEY:-}" ]; then
  OPS_API_KEY="$(node scripts/ops-key.js .run)"
fi
export OPS_API_KEY

if [ -s .run/supervisor.pid ] && kill -0 "$(cat .run/supervisor.pid)" 2>/dev/null; then
  echo "already running (supervisor pid $(cat .run/supervisor.pid)); npm stop first to restart"
else
  nohup node scripts/supervise.js >> .run/logs/supervisor.log 2>&1 &
  echo $! > .run/supervisor.pid
fi

for port in 3101 3102 3103 "$PORT"; do
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { echo "a service on port $port did not come up; see .run/logs/" >&2; exit 1; }
done

echo
echo "Clearinghouse is up."
echo "  API:            http://127.0.0.1:$PORT"
echo "  API docs:       http://127.0.0.1:$PORT/docs   (OpenAPI JSON: /docs-json)"
echo "  operations key: $OPS_API_KEY   (also in .run/ops-api-key)"
echo "  logs:           .run/logs/<service>.log"
echo "  chain anchors:  .run/anchors.jsonl, topic $TOPIC_PREFIX.anchors   (public key for auditors: .run/anchor-key.pem.pub)"
echo "  stop:           npm stop"
