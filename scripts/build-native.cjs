#!/usr/bin/env node
// Builds the native addon (build/Release/bertfit_native.node): the package's `install` and `build:native` script.
// Runs `node-gyp rebuild` against the headers of the Node that runs us (never downloads them when they are
// installed, like scripts/setup.sh), with the first node-gyp found among: an installed node-gyp package
// (the devDependency, or one hoisted above us), the copy npm gives lifecycle scripts ($npm_config_node_gyp), and
// the copy bundled with the npm beside this Node. Nothing is fetched from the network to find node-gyp.
// No dependencies; extra arguments are passed to node-gyp (e.g. `--jobs=2`, `--debug`).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** [command, args prefix, where it came from] for the first node-gyp found, or null. */
function findNodeGyp() {
  const candidates = [];
  try {
    candidates.push([require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] }), 'node_modules']);
  } catch { /* not installed: a user's install without devDependencies */ }
  const bin = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp');
  candidates.push([bin, 'node_modules/.bin']);
  if (process.env.npm_config_node_gyp) candidates.push([process.env.npm_config_node_gyp, 'npm_config_node_gyp']);
  // npm_execpath is npm's bin/npm-cli.js when npm runs us; otherwise look for the npm installed beside this Node.
  const npmDirs = [];
  if (process.env.npm_execpath) npmDirs.push(path.resolve(path.dirname(process.env.npm_execpath), '..'));
  const prefix = path.resolve(process.execPath, '..', '..');
  npmDirs.push(path.join(prefix, 'lib', 'node_modules', 'npm'), path.join(path.dirname(process.execPath), 'node_modules', 'npm'));
  for (const d of npmDirs) candidates.push([path.join(d, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), `npm's bundled copy (${d})`]);
  for (const [file, from] of candidates) {
    if (!fs.existsSync(file)) continue;
    // A .js entry point runs with this Node; anything else (a shell shim) is executed as is.
    if (/\.[cm]?js$/.test(file)) return [process.execPath, [file], `${from}: ${file}`];
    return [file, [], `${from}: ${file}`];
  }
  return null;
}

function fail(message) {
  console.error(`\nbertfit: could not build the native addon (build/Release/bertfit_native.node).\n${message}\n` +
    'bertfit needs a C++17 compiler (g++), make and python3 (for node-gyp); oneDNN (Debian: libdnnl-dev) and Open MPI ' +
    '(Debian: libopenmpi-dev, for data-parallel training) are optional and used when found. Install what is missing, then run `npm rebuild bertfit` (or `npm run build:native` in a checkout).\n');
  process.exit(1);
}

const gyp = findNodeGyp();
if (!gyp) fail('node-gyp was not found: not in node_modules, not given by npm ($npm_config_node_gyp), not bundled with npm.');
const [cmd, pre, from] = gyp;

const args = [...pre, 'rebuild'];
const env = { ...process.env };
// The local headers: <prefix>/include/node/node_api.h beside the running node (Debian's nodejs, nvm, official
// tarballs all have them). An explicit npm_config_nodedir (user or npmrc) wins; node-gyp reads it itself.
const nodedir = path.resolve(process.execPath, '..', '..');
let headers;
if (env.npm_config_nodedir) {
  headers = `${env.npm_config_nodedir} (npm_config_nodedir)`;
} else if (fs.existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${nodedir}`);
  headers = nodedir;
} else {
  headers = 'none installed beside node: node-gyp will use its cache or download them';
}
args.push(...process.argv.slice(2));

console.log(`bertfit: building the native addon with node-gyp (${from}), Node headers: ${headers}`);
const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit', shell: process.platform === 'win32' && !/\.[cm]?js$/.test(cmd) });
if (r.error) fail(`running node-gyp failed: ${r.error.message}`);
if (r.status !== 0) fail(`node-gyp rebuild exited with ${r.status ?? `signal ${r.signal}`} (see its output above).`);
const addon = path.join(root, 'build', 'Release', 'bertfit_native.node');
if (!fs.existsSync(addon)) fail(`node-gyp succeeded but ${addon} is missing.`);
// what the build found of the optional libraries (the same detection binding.gyp runs)
const found = (script) => spawnSync(process.execPath, [path.join(__dirname, script)], { encoding: 'utf8' }).stdout.trim() === '1' ? 'yes' : 'no';
console.log(`bertfit: built ${path.relative(root, addon)} (oneDNN: ${found('detect-dnnl.cjs')}, MPI: ${found('detect-mpi.cjs')})`);
