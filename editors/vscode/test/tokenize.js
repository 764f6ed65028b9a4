// Tokenises files with the extension's TextMate grammar, as VS Code does (vscode-textmate with
// the Oniguruma regex engine), and prints one JSON line per token: file, line, text, scopes.
// Used by tests/test_editors.py.
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const wasm = fs.readFileSync(path.join(require.resolve("vscode-oniguruma"), "..", "onig.wasm")).buffer;
const onig = oniguruma.loadWASM(wasm).then(() => ({
  createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
  createOnigString: (s) => new oniguruma.OnigString(s),
}));
const grammarFile = path.join(__dirname, "..", "syntaxes", "exportc.tmLanguage.json");
const registry = new vsctm.Registry({
  onigLib: onig,
  loadGrammar: async (scope) => scope === "source.exportc"
    ? vsctm.parseRawGrammar(fs.readFileSync(grammarFile, "utf8"), grammarFile) : null,
});

registry.loadGrammar("source.exportc").then((grammar) => {
  for (const file of process.argv.slice(2)) {
    const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
    let state = vsctm.INITIAL;
    lines.forEach((line, i) => {
      const result = grammar.tokenizeLine(line, state);
      for (const t of result.tokens) {
        const text = line.substring(t.startIndex, t.endIndex);
        if (text.trim()) {
          process.stdout.write(JSON.stringify({ file, line: i + 1, text, scopes: t.scopes }) + "\n");
        }
      }
      state = result.ruleStack;
    });
  }
});
