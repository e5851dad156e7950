// The journeyc extension's client: starts `journeyc lsp` over stdio for `.journey` files.
//
// Highlighting needs none of this (package.json contributes the TextMate grammar and the
// language configuration). This file only finds the binary named by the `journeyc.path`
// setting, checks that it has an `lsp` command, and hands it to vscode-languageclient.
// When something is missing it says so in the "journeyc" output channel and stops; it
// never fails the extension's activation. Plain JavaScript, loaded as is: no build step.

'use strict';

const path = require('node:path');
const { spawnSync } = require('node:child_process');
const vscode = require('vscode');

/** @type {vscode.OutputChannel | undefined} */
let output;
/** @type {any} the running LanguageClient, if any */
let client;

function log(message) {
  output.appendLine(`[${new Date().toLocaleTimeString()}] ${message}`);
}

/** The binary named by `journeyc.path`; a relative path with a slash is read from the workspace's first folder. */
function serverPath() {
  const configured = vscode.workspace.getConfiguration('journeyc').get('path') || 'journeyc';
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (folder && !path.isAbsolute(configured) && /[\\/]/.test(configured)) {
    return path.join(folder, configured);
  }
  return configured;
}

/**
 * Asks the binary for `lsp --help`. Returns null when it has an `lsp` command, or the
 * sentence that explains why the language server cannot start.
 */
function probe(command) {
  const r = spawnSync(command, ['lsp', '--help'], { encoding: 'utf8', timeout: 10000 });
  if (r.error && r.error.code === 'ENOENT') {
    return (
      `\`${command}\` was not found. Install journeyc (cargo install --path . in its repository), ` +
      'or set "journeyc.path" to the binary, e.g. /path/to/journeyc/target/release/journeyc. ' +
      'Highlighting works without it.'
    );
  }
  if (r.error) {
    return `\`${command} lsp --help\` could not run: ${r.error.message}`;
  }
  if (r.status !== 0) {
    const said = `${r.stderr || ''}${r.stdout || ''}`.trim().split('\n').slice(0, 3).join(' | ');
    return (
      `\`${command}\` has no \`lsp\` command yet (it answered \`lsp --help\` with exit status ${r.status}` +
      `${said ? `: ${said}` : ''}). It is older than the language server: update journeyc; ` +
      'meanwhile this extension gives highlighting only, and `journeyc check --format json` gives diagnostics.'
    );
  }
  return null;
}

async function start() {
  const command = serverPath();
  const problem = probe(command);
  if (problem) {
    log(problem);
    vscode.window.showWarningMessage(`journeyc: the language server is not running. ${problem}`, 'Show output').then((choice) => {
      if (choice) output.show(true);
    });
    return;
  }

  let languageclient;
  try {
    languageclient = require('vscode-languageclient/node');
  } catch (e) {
    log(
      `The vscode-languageclient package is missing (${e.message}). Run \`npm install --omit=dev\` in ` +
        `${__dirname}, then reload the window. Highlighting works without it.`,
    );
    output.show(true);
    return;
  }

  const { LanguageClient, TransportKind } = languageclient;
  const serverOptions = { command, args: ['lsp'], transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'journey' },
      { scheme: 'untitled', language: 'journey' },
    ],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.journey') },
    outputChannel: output,
  };
  client = new LanguageClient('journeyc', 'journeyc language server', serverOptions, clientOptions);
  log(`starting \`${command} lsp\``);
  try {
    await client.start();
  } catch (e) {
    log(`\`${command} lsp\` failed to start: ${e && e.message ? e.message : e}`);
    output.show(true);
    client = undefined;
  }
}

async function stop() {
  const running = client;
  client = undefined;
  if (running) {
    try {
      await running.stop();
    } catch (e) {
      log(`stopping the language server: ${e && e.message ? e.message : e}`);
    }
  }
}

async function restart() {
  await stop();
  await start();
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  output = vscode.window.createOutputChannel('journeyc');
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand('journeyc.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('journeyc.path')) restart();
    }),
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
