// A test reporter that stays silent until the run ends, then lists every failed test with its
// file and error, so that the end of a long log (all a CI page may show) names what failed.
// test/run.mjs adds it beside the default TAP reporter.
export default async function* failedTests(source) {
  const failed = [];
  for await (const event of source) {
    // A suite fails when a test in it fails; list only the tests themselves.
    if (event.type !== "test:fail" || event.data.details?.type === "suite") continue;
    const { name, file, details } = event.data;
    const error = details?.error;
    const cause = error?.cause ?? error;
    const message = String(cause?.message ?? cause ?? "")
      .split("\n")
      .slice(0, 6)
      .join("\n    ");
    failed.push(`- ${file ? `${file}: ` : ""}${name}\n    ${message}`);
  }
  if (failed.length > 0) yield `\n# ${failed.length} failed:\n${failed.join("\n")}\n`;
}
