// Runs guide.test.mjs against mock-server.mjs (a TEST DOUBLE of the REST
// API): starts the mock on a free port, waits for its "listening" line, runs
// the test with the mock's URL and tokens, stops the mock, exits as the test did.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import readline from 'node:readline';

const here = path.dirname(fileURLToPath(import.meta.url));
const mock = spawn(process.execPath, [path.join(here, 'mock-server.mjs'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
let url = '';
for await (const line of readline.createInterface({ input: mock.stdout })) {
  const match = /mock listening on (\S+)/.exec(line);
  if (match) {
    url = match[1];
    break;
  }
}
if (!url) {
  console.error('the mock server did not start');
  process.exit(1);
}
console.log(`mock REST API (test double) at ${url}`);
const run = spawn(process.execPath, ['--test', path.join(here, 'units.test.mjs'), path.join(here, 'guide.test.mjs')], {
  stdio: 'inherit',
  cwd: here,
  env: {
    ...process.env,
    FULCRUM_CONSOLE_URL: url,
    FULCRUM_TOKEN: 'operator-secret',
    FULCRUM_VIEWER_TOKEN: 'viewer-secret',
    FULCRUM_BACKENDS: process.env.FULCRUM_BACKENDS || '127.0.0.1:18081,127.0.0.2:18082',
  },
});
const [code] = await once(run, 'exit');
mock.kill('SIGTERM');
process.exit(code ?? 1);
