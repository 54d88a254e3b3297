// docs/operations.md names what an operator acts on by name: the timers they can run through
// the host's admin API ("Running a timer now") and the queues whose dead letters a consumer
// records ("Dead letters"). Both lists must match what the app registers.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { allDefinitions } from "../../functions/all.js";

const operations = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");

function section(heading: string): string {
  const start = operations.indexOf(`## ${heading}\n`);
  const end = operations.indexOf("\n## ", start + 1);
  return operations.slice(start, end < 0 ? undefined : end);
}

describe("docs/operations.md", () => {
  it("lists the timers the app registers", () => {
    // Prepare
    const registered = allDefinitions()
      .filter((d) => d.kind === "timer")
      .map((d) => d.name);

    // Act: the first column of the section's table
    const documented = [...section("Running a timer now").matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]!);

    // Assess
    expect([...documented].sort()).toEqual([...registered].sort());
  });

  it("lists the queues whose dead letters a consumer records", () => {
    // Prepare
    const deadLetterQueue = "/$DeadLetterQueue";
    const registered = allDefinitions().flatMap((d) =>
      d.kind === "serviceBusQueue" && d.options.queueName.endsWith(deadLetterQueue) ? [d.options.queueName.slice(0, -deadLetterQueue.length)] : [],
    );

    // Act: the list items, "- `<queue>`: what is recorded"
    const documented = [...section("Dead letters").matchAll(/^- `([a-z-]+)`:/gm)].map((m) => m[1]!);

    // Assess
    expect([...documented].sort()).toEqual([...registered].sort());
  });
});
