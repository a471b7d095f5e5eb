#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls `npm test`, which runs this).
# Installs what the tests need (npm packages; the Kafka broker is fetched from Maven Central and
# started by the integration project's global setup; each test creates its own database and
# topics), then: domain purity check, dependency rules (dependency-cruiser), lint (ESLint, type-aware),
# format check (Prettier), typecheck, unit tests, integration tests against the real
# broker and Postgres. Ends with one plain line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund || exit 1
fi

node scripts/check-domain-purity.mjs || exit 1
npm run -s depcruise || exit 1
npm run -s lint || exit 1
npm run -s format:check || exit 1
npx tsc -p tsconfig.json --noEmit || exit 1

rm -f .run/jest-unit.json .run/jest-integration.json
npx jest --selectProjects unit --json --outputFile=.run/jest-unit.json
unit=$?
npx jest --selectProjects integration --runInBand --json --outputFile=.run/jest-integration.json
integration=$?

node -e '
const fs = require("fs");
let passed = 0, failed = 0;
for (const f of [".run/jest-unit.json", ".run/jest-integration.json"]) {
  try { const r = JSON.parse(fs.readFileSync(f, "utf8")); passed += r.numPassedTests; failed += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0); }
  catch { failed += 1; console.log(`no results in ${f}`); }
}
console.log(`${passed} passed, ${failed} failed`);
'
[ "$unit" -eq 0 ] && [ "$integration" -eq 0 ]
