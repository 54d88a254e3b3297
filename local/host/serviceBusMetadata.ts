// What the Service Bus extension (5.x) hands the worker for a message: its body as RPC typed data and its
// binding data as trigger metadata; for a batch (`cardinality: "many"`), a collection of bodies and every
// metadata key with `Array` appended, one entry per message (e.g. `MessageIdArray`).
import type { ServiceBusReceivedMessage } from "@azure/service-bus";
import type { RpcBindingInfo, RpcTypedData } from "./coreTypes.js";

const dotNetMax = "9999-12-31T23:59:59.9999999";

/** Newtonsoft's rendering of a UTC DateTime (`…Z`) or a DateTimeOffset (`…+00:00`), trailing zero fractions dropped. */
function dotNetTime(date: Date | undefined, kind: "utc" | "offset"): string | undefined {
  if (!date || Number.isNaN(date.getTime())) return undefined;
  const suffix = kind === "utc" ? "Z" : "+00:00";
  // An infinite time-to-live gives an expiry beyond .NET's range: the host reports DateTime.MaxValue.
  if (date.getUTCFullYear() > 9999) return `${dotNetMax}${suffix}`;
  const [whole, frac] = date.toISOString().replace("Z", "").split(".");
  const fraction = frac.replace(/0+$/, "");
  return `${whole}${fraction ? `.${fraction}` : ""}${suffix}`;
}

function typed(value: unknown): RpcTypedData | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return { string: value };
  if (typeof value === "number") return Number.isInteger(value) ? { int: value } : { double: value };
  return { json: JSON.stringify(value) };
}

export function idString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.toString("hex");
  return String(value);
}

/** The binding data the Service Bus extension (5.x) gives the host for one message (X-sb). */
export function serviceBusTriggerMetadata(message: ServiceBusReceivedMessage): Record<string, RpcTypedData> {
  const applicationProperties = message.applicationProperties ?? {};
  // .NET DateTime/DateTimeOffset values reach the worker as JSON strings.
  const time = (date: Date | undefined, kind: "utc" | "offset"): RpcTypedData | undefined => {
    const text = dotNetTime(date, kind);
    return text === undefined ? undefined : { json: JSON.stringify(text) };
  };
  const entries: Record<string, RpcTypedData | undefined> = {
    // The wire (AMQP) count starts at 0; .NET — and so the host — reports it plus one (JS reports it raw).
    DeliveryCount: typed((message.deliveryCount ?? 0) + 1),
    DeadLetterSource: typed(message.deadLetterSource),
    LockToken: typed(message.lockToken),
    ExpiresAtUtc: time(message.expiresAtUtc, "utc"),
    ExpiresAt: time(message.expiresAtUtc, "offset"),
    EnqueuedTimeUtc: time(message.enqueuedTimeUtc, "utc"),
    EnqueuedTime: time(message.enqueuedTimeUtc, "offset"),
    MessageId: typed(idString(message.messageId)),
    ContentType: typed(message.contentType),
    ReplyTo: typed(message.replyTo),
    SequenceNumber: typed(message.sequenceNumber?.toNumber()),
    To: typed(message.to),
    Subject: typed(message.subject),
    Label: typed(message.subject),
    CorrelationId: typed(idString(message.correlationId)),
    ApplicationProperties: typed(applicationProperties),
    UserProperties: typed(applicationProperties),
    SessionId: typed(message.sessionId),
    ReplyToSessionId: typed(message.replyToSessionId),
    PartitionKey: typed(message.partitionKey),
  };
  const metadata: Record<string, RpcTypedData> = {};
  // Null values are left out, as the host does.
  for (const [key, data] of Object.entries(entries)) if (data) metadata[key] = data;
  return metadata;
}

/** The message body as the host sends it: UTF-8 text (the library JSON-parses it when it can), or bytes for dataType "binary". */
export function serviceBusMessageData(message: ServiceBusReceivedMessage, binding: RpcBindingInfo): RpcTypedData {
  const body: unknown = message.body;
  let bytes: Buffer;
  if (Buffer.isBuffer(body)) bytes = body;
  else if (body instanceof Uint8Array) bytes = Buffer.from(body);
  else if (typeof body === "string") bytes = Buffer.from(body, "utf8");
  else bytes = Buffer.from(JSON.stringify(body ?? null), "utf8");
  return binding.dataType === "binary" ? { bytes } : { string: bytes.toString("utf8") };
}

/** What the metadata of one message says, as the value the worker would decode from it. */
function plain(data: RpcTypedData): unknown {
  if (data.string !== undefined && data.string !== null) return data.string;
  if (data.int !== undefined && data.int !== null) return data.int;
  if (data.double !== undefined && data.double !== null) return data.double;
  return data.json === undefined || data.json === null ? null : JSON.parse(data.json);
}

/**
 * The binding data of a batch: each single-message key as `<key>Array`, one entry per message in batch
 * order (null where a message has no value). Sent as JSON arrays, which the library parses and camel-cases
 * (`messageIdArray`, `deliveryCountArray`, `applicationPropertiesArray: [{ myProp }]`…).
 */
export function serviceBusBatchTriggerMetadata(messages: readonly ServiceBusReceivedMessage[]): Record<string, RpcTypedData> {
  const each = messages.map(serviceBusTriggerMetadata);
  const keys = new Set(each.flatMap((m) => Object.keys(m)));
  const metadata: Record<string, RpcTypedData> = {};
  for (const key of keys) metadata[`${key}Array`] = { json: JSON.stringify(each.map((m) => (m[key] ? plain(m[key]) : null))) };
  return metadata;
}

/** A batch's bodies: a collection of strings, or of byte arrays for dataType "binary". */
export function serviceBusBatchData(messages: readonly ServiceBusReceivedMessage[], binding: RpcBindingInfo): RpcTypedData {
  const each = messages.map((m) => serviceBusMessageData(m, binding));
  return binding.dataType === "binary"
    ? { collectionBytes: { bytes: each.map((d) => d.bytes!) } }
    : { collectionString: { string: each.map((d) => d.string!) } };
}
