import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints one closing line, `N passed, N failed` (plus skipped), after vitest's
 * own report, so that tools reading only the last line of a run see its result.
 *
 * Before it, every test that skipped itself with a reason (`context.skip(reason)`:
 * no IPv6 here, a feature this Node lacks) is listed with that reason, so that
 * no test is skipped silently. Tests skipped without one (`skipIf`, a `-t`
 * filter) are only counted.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const explained: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === "passed") passed++;
        else if (result.state === "failed") failed++;
        else {
          skipped++;
          if (result.state === "skipped" && result.note !== undefined) {
            explained.push(`  ${module.relativeModuleId} > ${test.fullName}\n    ${result.note}`);
          }
        }
      }
      if (module.state() === "failed" && module.children.size === 0) failed++; // a file that could not load
    }
    if (explained.length > 0) {
      const others = skipped - explained.length;
      const rest =
        others > 0 ? ` (and ${others} skipped without a reason: skipIf or a filter)` : "";
      process.stdout.write(
        `\nSkipped, with the reason each gave${rest}:\n${explained.join("\n")}\n`,
      );
    }
    const tail = skipped > 0 ? `, ${skipped} skipped` : "";
    process.stdout.write(`\n${passed} passed, ${failed} failed${tail}\n`);
  }
}
