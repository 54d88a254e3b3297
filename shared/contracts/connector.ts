// HTTP contracts of the connector API (docs/api.md, "Connector").
import { z } from "zod";
import { connectorErrorCodes, connectorHealths, onboardingStatuses } from "../domain/connector.js";

const nullableDateTime = z.string().nullable();

export const connectorErrorSchema = z.object({ code: z.enum(connectorErrorCodes), message: z.string(), at: z.string() });

export const connectorSchema = z.object({
  id: z.literal("teamviewer"),
  displayName: z.string(),
  onboardingStatus: z.enum(onboardingStatuses),
  health: z.enum(connectorHealths).nullable(),
  account: z.object({ userId: z.string(), name: z.string(), email: z.string().nullable(), companyName: z.string().nullable() }).nullable(),
  licenseAgreement: z.object({ acceptedBy: z.object({ id: z.string(), displayName: z.string() }), acceptedAt: z.string(), version: z.string() }).nullable(),
  onboardedAt: nullableDateTime,
  lastConnectionDateTime: nullableDateTime,
  lastError: connectorErrorSchema.nullable(),
  /** Shown while an onboarding lasts. */
  onboardingRequestExpiryDateTime: nullableDateTime,
  /** The consent text the portal shows before connect, and its version. */
  consent: z.object({ version: z.string(), text: z.string() }),
});
export type ConnectorView = z.output<typeof connectorSchema>;

export const connectBody = z.strictObject({
  acceptLicenseAgreement: z.literal(true, { error: "the license agreement must be accepted (true)" }),
});

export const connectResponseSchema = z.object({
  authorizeUrl: z.string(),
  onboardingStatus: z.literal("onboarding"),
  expiresAt: z.string(),
});
export type ConnectResult = z.output<typeof connectResponseSchema>;

/**
 * What TeamViewer appends to the redirect URI. Not strict: an authorization server may add
 * parameters of its own. Zod's messages name fields, never values, so a rejected code or
 * state is not echoed back.
 */
export const oauthCallbackQuery = z
  .object({
    code: z.string().min(1).max(2048).optional(),
    state: z.string().min(1).max(512),
    error: z.string().min(1).max(200).optional(),
    error_description: z.string().max(2000).optional(),
  })
  .refine((q) => (q.code === undefined) !== (q.error === undefined), { message: "expected either code or error", path: ["code"] });
export type OAuthCallbackQuery = z.output<typeof oauthCallbackQuery>;

export const verifyResponseSchema = z.object({
  health: z.enum(connectorHealths),
  checkedAt: z.string(),
  detail: z.string(),
});
export type VerifyResult = z.output<typeof verifyResponseSchema>;
