#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls `npm test`, which runs this).
# Installs what the tests need (npm packages, the Kafka broker from Maven Central, the database
# schema is applied by each test on its own database), then: purity check, typecheck, unit tests,
# integration tests against the real broker and Postgres.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

node scripts/check-domain-purity.mjs
npx tsc -p tsconfig.json --noEmit
npx jest --selectProjects unit
# The integration project's globalSetup starts Kafka (scripts/kafka.sh) and checks Postgres.
npx jest --selectProjects integration --runInBand
