// The client (extension.js) under a stand-in for the `vscode` module: when the binary
// named by `journeyc.path` is missing, or has no `lsp` command, the "journeyc" output
// channel says so plainly and activation still succeeds (highlighting needs no server).

'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Module = require('node:module');

/** A `vscode` module just large enough for extension.js, with `journeyc.path` set to `binary`. */
function fakeVscode(binary) {
  const lines = [];
  const warnings = [];
  const disposable = { dispose() {} };
  return {
    lines,
    warnings,
    module: {
      window: {
        createOutputChannel: () => ({ appendLine: (l) => lines.push(l), show() {}, dispose() {} }),
        showWarningMessage: (m) => {
          warnings.push(m);
          return Promise.resolve(undefined);
        },
      },
      workspace: {
        getConfiguration: () => ({ get: (key) => (key === 'path' ? binary : undefined) }),
        workspaceFolders: undefined,
        onDidChangeConfiguration: () => disposable,
        createFileSystemWatcher: () => disposable,
      },
      commands: { registerCommand: () => disposable },
    },
  };
}

/** Activates a fresh copy of extension.js against `vscode`; returns what it logged. */
async function activateWith(binary) {
  const vscode = fakeVscode(binary);
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
  };
  require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: vscode.module };
  const file = require.resolve('../extension.js');
  delete require.cache[file];
  try {
    const extension = require(file);
    await extension.activate({ subscriptions: [] });
    await extension.deactivate();
  } finally {
    Module._resolveFilename = resolve;
    delete require.cache.vscode;
    delete require.cache[file];
  }
  return vscode;
}

test('a missing journeyc is named in the output channel', async () => {
  const missing = path.join(os.tmpdir(), 'no-such-dir-for-journeyc', 'journeyc');
  const { lines, warnings } = await activateWith(missing);
  const said = lines.join('\n');
  assert.match(said, /was not found/);
  assert.ok(said.includes(missing), said);
  assert.match(said, /journeyc\.path/);
  assert.strictEqual(warnings.length, 1);
});

test('a journeyc without an `lsp` command is told apart from a missing one', { skip: process.platform === 'win32' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeyc-ext-'));
  const binary = path.join(dir, 'journeyc');
  fs.writeFileSync(binary, "#!/bin/sh\necho \"error: unrecognized subcommand '$1'\" >&2\nexit 2\n", { mode: 0o755 });
  try {
    const { lines } = await activateWith(binary);
    const said = lines.join('\n');
    assert.match(said, /has no `lsp` command yet/);
    assert.match(said, /unrecognized subcommand 'lsp'/);
    assert.match(said, /older than the language server/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
