// The credential for talking to the local Key Vault emulator, which accepts any bearer
// token. The app's own copy lives in shared/ (the build ships only functions/ and shared/);
// this name points at it so the token the app and the local tools send is the same one.
import type { TokenCredential } from "@azure/core-auth";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";

export const localDevCredential: TokenCredential = localDevelopmentCredential;
