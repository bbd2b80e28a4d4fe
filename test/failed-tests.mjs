// A test reporter that notes every failed test (file, name, error) in the file named by
// FAILED_TESTS_FILE, one JSON line each, as it fails. test/run.mjs lists them once the run is over,
// so the end of a long log (all a CI page may show) names what failed. It writes as it goes,
// not at the end: --test-force-exit ends the runner before a reporter's last output.
import fs from "node:fs";

export default async function* failedTests(source) {
  const file = process.env.FAILED_TESTS_FILE;
  for await (const event of source) {
    // A suite fails when a test in it fails; note only the tests themselves.
    if (!file || event.type !== "test:fail" || event.data.details?.type === "suite") continue;
    const { name, file: testFile, details } = event.data;
    const error = details?.error?.cause ?? details?.error;
    fs.appendFileSync(file, `${JSON.stringify({ file: testFile, name, error: String(error?.message ?? error ?? "") })}\n`);
  }
  yield "";
}
