#!/usr/bin/env node
// The first operations key of a machine's installation: generated once and kept in
// .run/ops-api-key (the database holds only its hash), readable by the owner alone. Used by
// scripts/up.sh; prints the key.
//
//   node scripts/ops-key.js [RUN_DIR]     (default: .run at the repository root)
//
// The run directory is made private (0700: it also holds the logs and the broker's data) and the
// key file 0600. Both are set on every start, so an installation from before (key file 0644,
// directory 0755) is tightened too. A new key file is created with mode 0600 from the start, so
// the key is never in a file others may read, even for a moment.
'use strict';
const { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } = require('fs');
const { randomBytes } = require('crypto');
const { join } = require('path');

const runDir = process.argv[2] || join(__dirname, '..', '.run');
const file = join(runDir, 'ops-api-key');

mkdirSync(runDir, { recursive: true, mode: 0o700 });
chmodSync(runDir, 0o700);
closeSync(openSync(file, 'a', 0o600)); // created 0600 if missing (the mode only applies to a new file)
chmodSync(file, 0o600); // before anything is written into one left 0644
let key = readFileSync(file, 'utf8').trim();
if (!key) {
  key = 'chk_ops_' + randomBytes(24).toString('base64url');
  writeFileSync(file, key);
}
process.stdout.write(key);
