// The $management request/response operations the SDK uses, translated into broker calls.
// Request and reply shapes follow @azure/service-bus 7.9.5 (core/managementClient.js).
import { z } from "zod";
import { amqpTypes, encodeForDelivery, MessageFormatError, parseMessage, uuidBytes, uuidString } from "./amqpEncoding.js";
import { BrokerError, type Disposition, type HandedOut } from "./brokerTypes.js";
import type { Entity } from "./entity.js";

export interface ManagementReply {
  readonly status: number;
  readonly description: string;
  readonly condition?: string;
  readonly body?: Readonly<Record<string, unknown>>;
}

const buffer = z.custom<Buffer>((v) => Buffer.isBuffer(v), "expected binary");
// rhea gives an AMQP long as a number when it fits in 53 bits, else as its 8 big-endian bytes.
const long = z
  .union([z.number(), buffer.refine((b) => b.length === 8, "expected 8 bytes")])
  .transform((v) => (typeof v === "number" ? v : Number(v.readBigInt64BE())));
const lockTokens = z
  .array(buffer.refine((b) => b.length === 16, "expected a uuid"))
  .min(1)
  .transform((tokens) => tokens.map(uuidString));
const properties = z.record(z.string(), z.unknown()).optional();

const renewLockBody = z.object({ "lock-tokens": lockTokens });
const peekBody = z.object({ "from-sequence-number": long, "message-count": z.number().int(), "session-id": z.string().nullish() });
const scheduleBody = z.object({ messages: z.array(z.object({ message: buffer })).min(1) });
const sequenceNumbersBody = z.object({ "sequence-numbers": z.array(long) });
const receiveBySequenceBody = z.object({ "sequence-numbers": z.array(long), "receiver-settle-mode": z.number().int().optional() });
const updateDispositionBody = z.object({
  "lock-tokens": lockTokens,
  "disposition-status": z.enum(["completed", "abandoned", "defered", "suspended"]),
  "deadletter-reason": z.string().nullish(),
  "deadletter-description": z.string().nullish(),
  "properties-to-modify": properties.nullable(),
});

const ok = (body?: Record<string, unknown>): ManagementReply => ({ status: 200, description: "OK", body });
const timestampArray = 0x83;
const longArray = 0x81;

export function handleManagementRequest(entity: Entity, operation: unknown, body: unknown): ManagementReply {
  try {
    switch (operation) {
      case "com.microsoft:renew-lock": {
        const request = renewLockBody.parse(body);
        const expirations = request["lock-tokens"].map((token) => entity.renewLock(token));
        return ok({ expirations: amqpTypes.wrap_array(expirations, timestampArray, undefined) });
      }
      case "com.microsoft:peek-message": {
        const request = peekBody.parse(body);
        if (request["session-id"]) return notImplemented("sessions");
        const from = Math.max(request["from-sequence-number"], 1);
        // The SDK keeps its own cursor and asks from the last sequence number it saw + 1.
        const found = entity.peek(from, request["message-count"]);
        if (found.length === 0) return { status: 204, description: "No messages" };
        return ok({ messages: found.map((m) => ({ message: encodeForDelivery(m.message, m.annotations) })) });
      }
      case "com.microsoft:schedule-message": {
        if (entity.isDeadLetterQueue) return notAllowed(`Cannot schedule messages on ${entity.path}.`);
        const request = scheduleBody.parse(body);
        const seqs = entity.send(request.messages.map((m) => parseMessage(m.message)));
        return ok({ "sequence-numbers": amqpTypes.wrap_array(seqs, longArray, undefined) });
      }
      case "com.microsoft:cancel-scheduled-message": {
        entity.cancelScheduled(sequenceNumbersBody.parse(body)["sequence-numbers"]);
        return ok();
      }
      case "com.microsoft:receive-by-sequence-number": {
        const request = receiveBySequenceBody.parse(body);
        const mode = request["receiver-settle-mode"] === 0 ? "receiveAndDelete" : "peekLock";
        const found = entity.receiveDeferred(request["sequence-numbers"], mode);
        return ok({ messages: found.map(receivedEntry) });
      }
      case "com.microsoft:update-disposition": {
        const request = updateDispositionBody.parse(body);
        const disposition = toDisposition(request);
        for (const token of request["lock-tokens"]) entity.settle(token, disposition);
        return ok();
      }
      default:
        return notImplemented(String(operation));
    }
  } catch (error) {
    return failure(error);
  }
}

function receivedEntry(m: HandedOut): Record<string, unknown> {
  const message = encodeForDelivery(m.message, m.annotations);
  // The SDK takes this uuid as the lock token as it is, without the .NET byte swap of delivery tags.
  return m.lockToken ? { "lock-token": amqpTypes.wrap_uuid(uuidBytes(m.lockToken)), message } : { message };
}

function toDisposition(request: z.infer<typeof updateDispositionBody>): Disposition {
  const props = request["properties-to-modify"] ?? undefined;
  switch (request["disposition-status"]) {
    case "completed":
      return { kind: "complete" };
    case "abandoned":
      return { kind: "abandon", properties: props };
    case "defered":
      return { kind: "defer", properties: props };
    case "suspended":
      return {
        kind: "deadLetter",
        reason: request["deadletter-reason"] ?? undefined,
        description: request["deadletter-description"] ?? undefined,
        properties: props,
      };
  }
}

function failure(error: unknown): ManagementReply {
  if (error instanceof BrokerError) {
    return error.code === "lockLost"
      ? { status: 410, description: error.message, condition: "com.microsoft:message-lock-lost" }
      : { status: 404, description: error.message, condition: "com.microsoft:message-not-found" };
  }
  if (error instanceof z.ZodError || error instanceof MessageFormatError) {
    return { status: 400, description: `Invalid management request: ${error.message}`, condition: "amqp:invalid-field" };
  }
  return { status: 500, description: error instanceof Error ? error.message : String(error), condition: "amqp:internal-error" };
}

function notImplemented(what: string): ManagementReply {
  return { status: 501, description: `The emulator does not implement ${what}.`, condition: "amqp:not-implemented" };
}

function notAllowed(description: string): ManagementReply {
  return { status: 400, description, condition: "amqp:not-allowed" };
}
