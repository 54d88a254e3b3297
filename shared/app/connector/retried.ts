// A Key Vault or Table call made after TeamViewer issued a token whose source (a refresh
// token, an authorization code) is now spent: a storage hiccup must not lose that token,
// so the call is tried again after a short pause.

/** Attempts at each such call. */
const storageAttempts = 3;

/** `work`, tried again after a short pause when it fails, up to three times. */
export async function retried<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (e) {
      if (attempt >= storageAttempts) throw e;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}
