// A valid-looking request for every endpoint, for tests that walk all of them (the
// authorization matrix, the fuzz test). Path parameters get fresh ids (nothing exists
// under them); endpoints with a body need an entry here, and a test fails until it has one.
import { randomUUID } from "node:crypto";
import type { EndpointDescription } from "../../functions/http/endpoint.js";

const bodies: Record<string, () => unknown> = {
  putRoleAssignment: () => ({ principalId: randomUUID(), principalType: "user", permission: "RemoteAssistance.Request", scopeTags: [] }),
  patchSettings: () => ({ sessionTimeoutMinutes: 60 }),
  connectConnector: () => ({ acceptLicenseAgreement: true }),
  requestSession: () => ({ description: "matrix test" }),
  approveSession: () => ({ comment: "matrix test" }),
  denySession: () => ({ comment: "matrix test" }),
  postAutomationEvent: () => ({ type: "remoteAssistance.requested", version: 1, data: { deviceId: randomUUID(), description: "matrix test" } }),
  // Port 9 (discard) on loopback: nothing listens, deliveries fail and end in the dead-letter queue.
  putAuditSubscription: () => ({ url: "http://127.0.0.1:9/audit", secret: "sample-secret-0123456789" }),
};

export function samplePath(d: EndpointDescription, params: Record<string, string> = {}): string {
  return `/${d.route.replace(/\{(\w+)[^}]*\}/g, (_m, name: string) => encodeURIComponent(params[name] ?? randomUUID()))}`;
}

export function sampleRequest(d: EndpointDescription, params: Record<string, string> = {}): { path: string; body?: unknown } {
  const path = samplePath(d, params);
  if (!d.body) return { path };
  const make = bodies[d.name];
  if (!make) throw new Error(`test/support/samples.ts has no sample body for endpoint ${d.name}`);
  return { path, body: make() };
}

export const hasSampleBody = (d: EndpointDescription): boolean => !d.body || d.name in bodies;
