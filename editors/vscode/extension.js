// A minimal client: starts `exportc lsp` (stdio) for .map files. Everything else — diagnostics,
// hover, completion, go to definition, outline, formatting — comes from the server.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("exportc").get("path") || "exportc";
  const server = { command, args: ["lsp"] };
  client = new LanguageClient("exportc", "exportc", { run: server, debug: server }, {
    documentSelector: [{ scheme: "file", language: "exportc" }],
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
