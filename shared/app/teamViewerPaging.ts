// Finding this project's TeamViewer session by its custom_api: GET /sessions page by page
// (open sessions of the group, full list). One call per page, made by `listPage`, so the
// client and the quota decorator (which counts every call) share the one paging loop.
import { TeamViewerError } from "./teamViewerError.js";

export interface OpenSessionsPageQuery {
  readonly groupId?: string;
  readonly state: readonly "open"[];
  readonly fullList: true;
  readonly offset?: number;
}

export interface SessionsPage<S> {
  readonly sessions: readonly S[];
  readonly nextOffset?: number;
}

// A retry that finds nothing must end even if TeamViewer's paging misbehaves.
const maxPages = 1000;

export async function findOpenSessionByCustomApi<S extends { readonly customApi?: string }>(
  listPage: (q: OpenSessionsPageQuery) => Promise<SessionsPage<S>>,
  customApi: string,
  groupId?: string,
): Promise<S | undefined> {
  let offset: number | undefined;
  for (let page = 0; page < maxPages; page++) {
    const result = await listPage({
      ...(groupId === undefined ? {} : { groupId }),
      state: ["open"],
      fullList: true,
      ...(offset === undefined ? {} : { offset }),
    });
    const found = result.sessions.find((s) => s.customApi === customApi);
    if (found) return found;
    if (result.nextOffset === undefined) return undefined;
    if (offset !== undefined && result.nextOffset <= offset) {
      throw new TeamViewerError("invalidResponse", "GET /sessions paging did not advance (next_offset went backwards).");
    }
    offset = result.nextOffset;
  }
  throw new TeamViewerError("invalidResponse", `GET /sessions paging did not end within ${maxPages} pages.`);
}
