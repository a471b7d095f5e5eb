#!/usr/bin/env bash
# Stops the services (through their supervisor) and the Kafka broker that scripts/up.sh started.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -s .run/supervisor.pid ] && kill -0 "$(cat .run/supervisor.pid)" 2>/dev/null; then
  pid=$(cat .run/supervisor.pid)
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  echo "services stopped"
fi
rm -f .run/supervisor.pid
bash scripts/kafka.sh stop
