// Ports of connection reporting: TeamViewer's connection report as the sessions area reads
// it, and the per-tenant cursor that says how far the report has been read.

/** One connection of a supporter, as TeamViewer's connection report lists it. */
export interface ReportedConnection {
  /** TeamViewer's id of the connection: what makes recording it idempotent. */
  readonly id: string;
  readonly userId: string;
  readonly userName: string;
  readonly startDate: Date;
  /** Absent while the connection is still open. */
  readonly endDate?: Date;
  /** With or without the `s` prefix (TeamViewer's form is unconfirmed); absent without a code. */
  readonly sessionCode?: string;
}

export interface ConnectionReportQuery {
  readonly from: Date;
  readonly to: Date;
  readonly offsetId?: string;
}

export interface ConnectionReportPage {
  readonly records: readonly ReportedConnection[];
  /** Records TeamViewer sent that could not be read: skipped. */
  readonly unreadable: number;
  readonly nextOffset?: string;
}

/** GET /reports/connections, one page per call (each call counted against the tenant's quota). */
export interface TeamViewerConnectionsApi {
  listConnections(accessToken: string, q: ConnectionReportQuery): Promise<ConnectionReportPage>;
}

/** How far a tenant's connection report has been read. */
export interface ConnectionReportCursor {
  /** The `to` of the last window read to its end; null before the first. */
  readonly through: string | null;
  /** A window being read page by page: where the next page starts. */
  readonly pending: { readonly from: string; readonly to: string; readonly offsetId: string } | null;
}

export interface StoredCursor {
  readonly cursor: ConnectionReportCursor;
  readonly etag: string;
}

/** One row per tenant; writes are etag-guarded so two runs at once cannot move it back. */
export interface ConnectionReportCursorStore {
  get(tenantId: string): Promise<StoredCursor | undefined>;
  /** Writes over `current` (or creates when undefined); the new etag, or undefined when someone else wrote first. */
  save(tenantId: string, cursor: ConnectionReportCursor, current: StoredCursor | undefined): Promise<StoredCursor | undefined>;
}
