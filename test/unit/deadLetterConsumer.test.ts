// How a dead-letter function treats a failure of its handler: by what failed, never by the
// delivery count (a dead-letter queue has no delivery limit, and the count a dead letter
// carries is the broker's: it may carry over from the queue or not grow at all).
import { RestError } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { deadLetterFailure } from "../../functions/queue/consumer.js";
import { SimulatedCrash } from "../../shared/app/sessions/ports.js";

const networkError = (code: string): Error => Object.assign(new Error(`connect ${code} 127.0.0.1:10002`), { code });

describe("a failing dead-letter handler", () => {
  it.each([
    ["storage unreachable", networkError("ECONNREFUSED")],
    ["a reset connection", networkError("ECONNRESET")],
    ["storage answering 503", new RestError("Server busy", { statusCode: 503 })],
    ["storage throttling (429)", new RestError("Too many requests", { statusCode: 429 })],
    ["a timeout", Object.assign(new Error("timed out"), { name: "TimeoutError" })],
  ])("leaves the dead letter for its next delivery when %s", (_, error) => {
    // Act
    const decision = deadLetterFailure(error);

    // Assess
    expect(decision).toBe("retry");
  });

  it.each([
    ["a bug (TypeError)", new TypeError("Cannot read properties of undefined")],
    ["a stored row that is not JSON", new SyntaxError("Unexpected token")],
    ["storage refusing the request (400)", new RestError("Bad request", { statusCode: 400 })],
    ["a simulated crash", new SimulatedCrash("sessionWorker.afterTeamViewerCreate")],
    ["something that is not an Error", "boom"],
  ])("gives up (audited, completed) on %s, which another delivery would only repeat", (_, error) => {
    // Act
    const decision = deadLetterFailure(error);

    // Assess
    expect(decision).toBe("giveUp");
  });
});
