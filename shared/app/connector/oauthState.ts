// The OAuth `state`: 32 random bytes the browser carries to TeamViewer and back. Only its
// SHA-256 is stored, so a leaked table row cannot be replayed as a callback.
import { createHash, randomBytes } from "node:crypto";

export function hashOAuthState(state: string): string {
  return createHash("sha256").update(state, "utf8").digest("base64url");
}

export function newOAuthState(): { readonly state: string; readonly id: string } {
  const state = randomBytes(32).toString("base64url");
  return { state, id: hashOAuthState(state) };
}
