// AMQP message bytes for the emulator: split a message into its sections, rebuild it with the
// broker's annotations for delivery, unpack batch envelopes, and map lock tokens to delivery tags.
// Messages are kept as the bytes the client sent, so nothing is lost to a decode/encode round trip.
import { randomUUID } from "node:crypto";
import rhea, { type Typed } from "rhea";

// rhea's typings omit or leave untyped the parts used here; this is the one place they are cast.
interface RheaReader {
  read(): Typed;
  remaining(): number;
  readonly position: number;
}
interface RheaWriter {
  write(value: Typed): void;
  toBuffer(): Buffer;
}
interface RheaTypes {
  Reader: new (buffer: Buffer) => RheaReader;
  Writer: new () => RheaWriter;
  Map32(items: Typed[]): Typed;
  described_nc(descriptor: Typed, value: Typed): Typed;
  wrap(value: unknown): Typed;
  wrap_ulong(value: number): Typed;
  wrap_long(value: number): Typed;
  wrap_int(value: number): Typed;
  wrap_timestamp(value: number): Typed;
  wrap_string(value: string): Typed;
  wrap_symbol(value: string): Typed;
  wrap_uuid(value: Buffer): Typed;
  wrap_array(values: readonly unknown[], typecode: number, descriptor: undefined): Typed;
}
interface Composite {
  described(): Typed;
}
interface RheaMessageCodec {
  encode(message: object): Buffer;
  decode(bytes: Buffer): Record<string, unknown>;
  header(fields: object): Composite;
  properties(fields: object): Composite;
}

export const amqpTypes = rhea.types as unknown as RheaTypes;
const codec = rhea.message as unknown as RheaMessageCodec;

/** Encodes a message given as rhea's plain-object form (used for CBS and management replies). */
export function encodeMessage(message: object): Buffer {
  return codec.encode(message);
}

/** Decodes a complete message into rhea's plain-object form (field names like `message_id`). */
export function decodeMessage(bytes: Buffer): Record<string, unknown> {
  return codec.decode(bytes);
}

const sectionCodes: Record<string, number> = {
  "amqp:header:list": 0x70,
  "amqp:delivery-annotations:map": 0x71,
  "amqp:message-annotations:map": 0x72,
  "amqp:properties:list": 0x73,
  "amqp:application-properties:map": 0x74,
  "amqp:data:binary": 0x75,
  "amqp:amqp-sequence:list": 0x76,
  "amqp:amqp-value:*": 0x77,
  "amqp:footer:map": 0x78,
};

const Section = { header: 0x70, deliveryAnnotations: 0x71, messageAnnotations: 0x72, properties: 0x73, applicationProperties: 0x74 } as const;

export interface MessageHeader {
  readonly durable?: boolean;
  readonly priority?: number;
  readonly ttl?: number;
  readonly firstAcquirer?: boolean;
}

/** One message as the broker keeps it: the client's section bytes plus the few fields the broker acts on. */
export interface ParsedMessage {
  readonly sections: {
    readonly header?: Buffer;
    readonly annotations?: Buffer;
    readonly properties?: Buffer;
    readonly applicationProperties?: Buffer;
    /** Body sections and footer, untouched. */
    readonly rest: Buffer;
  };
  readonly header: MessageHeader;
  /** properties.message-id in a form fit for duplicate detection. */
  readonly messageId: string | undefined;
  readonly scheduledEnqueueTime: number | undefined;
  readonly size: number;
}

export class MessageFormatError extends Error {
  override readonly name = "MessageFormatError";
}

function sectionCode(section: Typed): number | undefined {
  const descriptor: unknown = (section as { descriptor?: Typed }).descriptor?.value;
  if (typeof descriptor === "number") return descriptor;
  if (typeof descriptor === "string") return sectionCodes[descriptor];
  return undefined;
}

function messageIdKey(id: unknown): string | undefined {
  if (id === undefined || id === null) return undefined;
  if (typeof id === "string") return id;
  if (typeof id === "number") return `ulong:${id}`;
  if (Buffer.isBuffer(id)) return `bin:${id.toString("hex")}`;
  return String(id);
}

function timeValue(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number") return value;
  return undefined;
}

/** The typed key/value pairs of a message-annotations or application-properties section. */
function mapEntries(sectionBytes: Buffer | undefined): Array<[Typed, Typed]> {
  if (!sectionBytes) return [];
  const section = new amqpTypes.Reader(sectionBytes).read();
  const items: unknown = section.value;
  const pairs: Array<[Typed, Typed]> = [];
  if (Array.isArray(items)) {
    for (let i = 0; i + 1 < items.length; i += 2) pairs.push([items[i] as Typed, items[i + 1] as Typed]);
  }
  return pairs;
}

function keyOf(key: Typed): string {
  return String(key.value);
}

function writeSection(code: number, value: Typed): Buffer {
  const writer = new amqpTypes.Writer();
  writer.write(amqpTypes.described_nc(amqpTypes.wrap_ulong(code), value));
  return writer.toBuffer();
}

function writeMap(code: number, pairs: ReadonlyArray<readonly [Typed, Typed]>): Buffer {
  return writeSection(code, amqpTypes.Map32(pairs.flatMap(([k, v]) => [k, v])));
}

function writeComposite(composite: Composite): Buffer {
  const writer = new amqpTypes.Writer();
  writer.write(composite.described());
  return writer.toBuffer();
}

/** Splits encoded message bytes into sections. Delivery annotations are dropped: they are hop-by-hop. */
export function parseMessage(raw: Buffer): ParsedMessage {
  const reader = new amqpTypes.Reader(raw);
  let header: Buffer | undefined;
  let annotations: Buffer | undefined;
  let properties: Buffer | undefined;
  let applicationProperties: Buffer | undefined;
  let restStart: number | undefined;
  try {
    while (reader.remaining() > 0 && restStart === undefined) {
      const start = reader.position;
      const section = reader.read();
      const bytes = raw.subarray(start, reader.position);
      switch (sectionCode(section)) {
        case Section.header:
          header = bytes;
          break;
        case Section.deliveryAnnotations:
          break;
        case Section.messageAnnotations:
          annotations = bytes;
          break;
        case Section.properties:
          properties = bytes;
          break;
        case Section.applicationProperties:
          applicationProperties = bytes;
          break;
        case undefined:
          throw new MessageFormatError("message section without a known descriptor");
        default:
          restStart = start;
      }
    }
  } catch (error) {
    if (error instanceof MessageFormatError) throw error;
    throw new MessageFormatError(`undecodable message: ${error instanceof Error ? error.message : String(error)}`);
  }
  return describe({ header, annotations, properties, applicationProperties, rest: restStart === undefined ? Buffer.alloc(0) : raw.subarray(restStart) });
}

function describe(sections: ParsedMessage["sections"]): ParsedMessage {
  const head = sections.header ? decodeMessage(sections.header) : {};
  const props = sections.properties ? decodeMessage(sections.properties) : {};
  let scheduledEnqueueTime: number | undefined;
  for (const [key, value] of mapEntries(sections.annotations)) {
    if (keyOf(key) === "x-opt-scheduled-enqueue-time") scheduledEnqueueTime = timeValue(value.value);
  }
  const ttl = head.ttl;
  return {
    sections,
    header: {
      durable: head.durable === true ? true : undefined,
      priority: typeof head.priority === "number" ? head.priority : undefined,
      ttl: typeof ttl === "number" && ttl > 0 ? ttl : undefined,
      firstAcquirer: head.first_acquirer === true ? true : undefined,
    },
    messageId: messageIdKey(props.message_id),
    scheduledEnqueueTime,
    size: [sections.header, sections.annotations, sections.properties, sections.applicationProperties, sections.rest].reduce((n, p) => n + (p?.length ?? 0), 0),
  };
}

function assemble(sections: ParsedMessage["sections"]): Buffer {
  const parts = [sections.header, sections.annotations, sections.properties, sections.applicationProperties, sections.rest];
  return Buffer.concat(parts.filter((p): p is Buffer => p !== undefined));
}

/** The bytes to journal: the client's sections as kept, without any broker annotation. */
export function storedBytes(message: ParsedMessage): Buffer {
  return assemble(message.sections);
}

/** Service Bus gives every message an id; the SDK's lock renewer is keyed by it. */
export function withMessageId(message: ParsedMessage, messageId: string): ParsedMessage {
  const fields = message.sections.properties ? decodeMessage(message.sections.properties) : {};
  const properties = writeComposite(codec.properties({ ...fields, message_id: messageId }));
  return describe({ ...message.sections, properties });
}

export function newMessageId(): string {
  return randomUUID().replace(/-/g, "");
}

/** Sets application properties (abandon/defer/dead-letter updates); `undefined` values are skipped. */
export function withApplicationProperties(message: ParsedMessage, updates: Readonly<Record<string, unknown>>): ParsedMessage {
  const changed = Object.entries(updates).filter(([, v]) => v !== undefined);
  if (changed.length === 0) return message;
  const names = new Set(changed.map(([k]) => k));
  const kept = mapEntries(message.sections.applicationProperties).filter(([k]) => !names.has(keyOf(k)));
  const added = changed.map(([k, v]): [Typed, Typed] => [amqpTypes.wrap_string(k), amqpTypes.wrap(v)]);
  return describe({ ...message.sections, applicationProperties: writeMap(Section.applicationProperties, [...kept, ...added]) });
}

/** What the broker stamps on a message it hands out; see the SDK's `fromRheaMessage`. */
export interface BrokerAnnotations {
  readonly sequenceNumber: number;
  readonly enqueuedTime: number;
  readonly deliveryCount: number;
  readonly lockedUntil?: number;
  readonly lockToken?: string;
  /** 1 = deferred, 2 = scheduled. */
  readonly state?: 1 | 2;
  readonly deadLetterSource?: string;
}

const brokerAnnotationKeys = new Set([
  "x-opt-sequence-number",
  "x-opt-enqueued-time",
  "x-opt-locked-until",
  "x-opt-lock-token",
  "x-opt-message-state",
  "x-opt-deadletter-source",
]);

/** The message as delivered: a fresh header (delivery-count) and broker annotations, other sections as sent. */
export function encodeForDelivery(message: ParsedMessage, broker: BrokerAnnotations): Buffer {
  const h = message.header;
  const header = writeComposite(
    codec.header({ durable: h.durable, priority: h.priority, ttl: h.ttl, first_acquirer: h.firstAcquirer, delivery_count: broker.deliveryCount }),
  );
  const sym = amqpTypes.wrap_symbol;
  const added: Array<[Typed, Typed]> = [
    [sym("x-opt-sequence-number"), amqpTypes.wrap_long(broker.sequenceNumber)],
    [sym("x-opt-enqueued-time"), amqpTypes.wrap_timestamp(broker.enqueuedTime)],
  ];
  if (broker.lockedUntil !== undefined) added.push([sym("x-opt-locked-until"), amqpTypes.wrap_timestamp(broker.lockedUntil)]);
  if (broker.lockToken !== undefined) added.push([sym("x-opt-lock-token"), amqpTypes.wrap_uuid(uuidBytes(broker.lockToken))]);
  if (broker.state !== undefined) added.push([sym("x-opt-message-state"), amqpTypes.wrap_int(broker.state)]);
  if (broker.deadLetterSource !== undefined) added.push([sym("x-opt-deadletter-source"), amqpTypes.wrap_string(broker.deadLetterSource)]);
  const kept = mapEntries(message.sections.annotations).filter(([k]) => !brokerAnnotationKeys.has(keyOf(k)));
  const annotations = writeMap(Section.messageAnnotations, [...kept, ...added]);
  const s = message.sections;
  const parts = [header, annotations, s.properties, s.applicationProperties, s.rest];
  return Buffer.concat(parts.filter((p): p is Buffer => p !== undefined));
}

/** The SDK's batch format (0x80013700): every data section of the envelope is one encoded message. */
export const batchMessageFormat = 0x80013700;

export function unpackBatch(envelope: Buffer): Buffer[] {
  const reader = new amqpTypes.Reader(envelope);
  const messages: Buffer[] = [];
  while (reader.remaining() > 0) {
    const section = reader.read();
    if (sectionCode(section) === 0x75 && Buffer.isBuffer(section.value)) messages.push(section.value);
  }
  return messages;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** RFC 4122 byte order, as the SDK sends lock tokens to $management. */
export function uuidBytes(uuid: string): Buffer {
  if (!uuidPattern.test(uuid)) throw new MessageFormatError(`not a uuid: ${uuid}`);
  return Buffer.from(uuid.replace(/-/g, ""), "hex");
}

export function uuidString(bytes: Buffer): string {
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// .NET's Guid.ToByteArray() stores the first three groups little-endian; the SDK swaps them back.
function swapGuidGroups(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  out.subarray(0, 4).reverse();
  out.subarray(4, 6).reverse();
  out.subarray(6, 8).reverse();
  return out;
}

export function lockTokenToDeliveryTag(lockToken: string): Buffer {
  return swapGuidGroups(uuidBytes(lockToken));
}

export function deliveryTagToLockToken(tag: Buffer | string): string | undefined {
  const bytes = typeof tag === "string" ? Buffer.from(tag) : tag;
  return bytes.length === 16 ? uuidString(swapGuidGroups(bytes)) : undefined;
}

export function newLockToken(): string {
  return randomUUID();
}
