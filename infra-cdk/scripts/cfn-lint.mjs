// Runs cfn-lint on every synthesized template; fails only on errors (exit-code bit 2), not warnings.
// W3005 (redundant DependsOn) is what stock CDK Lambda roles produce.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'cdk.out';
const templates = readdirSync(dir).filter((f) => f.endsWith('.template.json')).map((f) => join(dir, f));
if (templates.length === 0) {
  console.error(`no templates in ${dir}: run the synth first`);
  process.exit(1);
}
const run = spawnSync('cfn-lint', ['--ignore-checks', 'W3005', '--', ...templates], { stdio: 'inherit' });
if (run.error) {
  console.error(`cannot run cfn-lint (${run.error.message}); install it with pip install cfn-lint`);
  process.exit(1);
}
const code = run.status ?? 1;
if (code & 2 || code & 1) {
  console.error(`cfn-lint found errors (exit ${code})`);
  process.exit(1);
}
console.log(`cfn-lint: no errors in ${templates.length} template(s)${code ? ` (exit ${code}: warnings/informational only)` : ''}`);
