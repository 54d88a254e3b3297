// Reports: who helped whom, when. Sessions over time by status and by platform (inline
// SVG), totals by status, platform and requester, and the median time to accept.
import { ApiProblem, nextPollMs, problemBox, type List } from "../api.js";
import type { PageContext } from "../context.js";
import { duration, h, mount, progress, s } from "../dom.js";
import { sessionStatuses, statusText, type Session, type SessionReport, type SessionStatus } from "../types.js";

const palette = ["#0b5cad", "#b3261e", "#1e7b34", "#8a4baf", "#a15c00", "#00727d", "#5c5c5c", "#c2185b"];
// Every status the API counts (a missing one would be drawn black, like any other missing one).
const statusColours: Record<SessionStatus, string> = {
  pendingApproval: "#4a5a8c",
  denied: "#6d4c41",
  requested: "#5c5c5c",
  awaitingEndUser: "#a15c00",
  accepted: "#1e7b34",
  declined: "#b3261e",
  expired: "#8a4baf",
  failed: "#7a1712",
  closed: "#0b5cad",
};

interface Series {
  readonly key: string;
  readonly label: string;
  readonly colour: string;
}

/** The reader's local calendar day, YYYY-MM-DD (date inputs and the charts' days use it). */
const isoDate = (d: Date): string => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
const dayOf = (iso: string): string => isoDate(new Date(iso));

/** A legend's colour square: an SVG fill, since the Content-Security-Policy allows no inline style attribute. */
const swatch = (colour: string): SVGSVGElement =>
  s("svg", { class: "swatch", viewBox: "0 0 1 1", "aria-hidden": "true" }, s("rect", { width: 1, height: 1, fill: colour }));

/** A stacked bar per day; a legend and a data table go with it for those who can't see colours. */
function stackedChart(title: string, days: readonly string[], series: readonly Series[], counts: Map<string, Map<string, number>>): HTMLElement {
  const width = 720;
  const height = 220;
  const left = 36;
  const bottom = 28;
  const max = Math.max(1, ...days.map((d) => [...(counts.get(d)?.values() ?? [])].reduce((a, b) => a + b, 0)));
  const band = (width - left - 8) / Math.max(1, days.length);
  const y = (v: number): number => ((height - bottom - 8) * v) / max;
  const bars = days.flatMap((d, i) => {
    let base = height - bottom;
    return series.map((se) => {
      const v = counts.get(d)?.get(se.key) ?? 0;
      if (v === 0) return null;
      const hgt = y(v);
      base -= hgt;
      return s(
        "rect",
        { x: (left + i * band + band * 0.15).toFixed(1), y: base.toFixed(1), width: (band * 0.7).toFixed(1), height: hgt.toFixed(1), fill: se.colour },
        s("title", null, `${d}: ${v} ${se.label}`),
      );
    });
  });
  const ticks = [0, Math.ceil(max / 2), max].filter((v, i, a) => a.indexOf(v) === i);
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));
  const total = days.reduce((n, d) => n + [...(counts.get(d)?.values() ?? [])].reduce((a, b) => a + b, 0), 0);
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${total} sessions over ${days.length} days`, class: "chart" },
    ticks.map((t) => [
      s("line", { x1: left, x2: width - 8, y1: (height - bottom - y(t)).toFixed(1), y2: (height - bottom - y(t)).toFixed(1), stroke: "#d0d4da" }),
      s("text", { x: left - 6, y: (height - bottom - y(t) + 4).toFixed(1), "text-anchor": "end", "font-size": "11", fill: "#333" }, String(t)),
    ]),
    bars,
    days.map((d, i) =>
      i % labelEvery === 0
        ? s("text", { x: (left + i * band + band / 2).toFixed(1), y: height - 10, "text-anchor": "middle", "font-size": "11", fill: "#333" }, d.slice(5))
        : null,
    ),
  );
  const present = series.filter((se) => days.some((d) => (counts.get(d)?.get(se.key) ?? 0) > 0));
  return h(
    "figure",
    { class: "chart-figure" },
    h("figcaption", null, title),
    svg,
    h(
      "ul",
      { class: "legend" },
      present.map((se) => h("li", null, swatch(se.colour), se.label)),
    ),
    h(
      "details",
      null,
      h("summary", null, "Show as a table"),
      h(
        "table",
        { class: "list compact" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col" }, "Day"),
            present.map((se) => h("th", { scope: "col" }, se.label)),
          ),
        ),
        h(
          "tbody",
          null,
          days
            .filter((d) => counts.has(d))
            .map((d) =>
              h(
                "tr",
                null,
                h("th", { scope: "row" }, d),
                present.map((se) => h("td", null, String(counts.get(d)?.get(se.key) ?? 0))),
              ),
            ),
        ),
      ),
    ),
  );
}

/** Horizontal bars for totals. */
function totalsChart(title: string, id: string, rows: readonly { label: string; value: number; colour: string }[]): HTMLElement {
  const width = 520;
  const rowH = 24;
  const labelW = 170;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${width} ${rows.length * rowH + 4}`,
      role: "img",
      "aria-label": `${title}: ${rows.map((r) => `${r.label} ${r.value}`).join(", ")}`,
      class: "chart",
    },
    rows.map((r, i) => [
      s("text", { x: labelW - 8, y: i * rowH + 16, "text-anchor": "end", "font-size": "12", fill: "#1b1f24" }, r.label),
      s("rect", { x: labelW, y: i * rowH + 4, width: (((width - labelW - 40) * r.value) / max).toFixed(1), height: rowH - 8, fill: r.colour }),
      s("text", { x: labelW + ((width - labelW - 40) * r.value) / max + 6, y: i * rowH + 16, "font-size": "12", fill: "#1b1f24" }, String(r.value)),
    ]),
  );
  return h(
    "figure",
    { class: "chart-figure", id },
    h("figcaption", null, title),
    rows.length > 0 ? svg : h("p", { class: "empty" }, "No sessions in this range."),
  );
}

const maxSessionsForTimeline = 1000;
/** Times the page tries again by itself after a 429 before it leaves it to the reader. */
const maxAutomaticRetries = 3;
/** The wait after a 429 that names none. */
const retryMs = 5000;
/** Pages read for the timeline at most: a scoped reader's pages may be short or empty and still have a token. */
const maxPagesForTimeline = 20;

export async function reportsPage(ctx: PageContext): Promise<void> {
  const { api } = ctx.app;
  const now = new Date();
  const fromDefault = new Date(now.getTime() - 29 * 86_400_000);
  const from = h("input", { type: "date", id: "report-from", name: "from", value: ctx.query.get("from") ?? isoDate(fromDefault) });
  const to = h("input", { type: "date", id: "report-to", name: "to", value: ctx.query.get("to") ?? isoDate(now) });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Report range" },
    h("div", { class: "field" }, h("label", { for: "report-from" }, "From"), from),
    h("div", { class: "field" }, h("label", { for: "report-to" }, "To (inclusive)"), to),
    h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, "Show")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate("/reports", { from: from.value, to: to.value });
  });
  const out = h("div", { id: "report", "aria-live": "polite" });
  mount(ctx.root, h("h1", null, "Reports"), h("p", { class: "muted" }, "Who helped whom, when."), form, out);
  mount(out, progress("Building the report"));

  const fromDate = new Date(`${from.value}T00:00:00`);
  if (Number.isNaN(fromDate.getTime()) || Number.isNaN(new Date(`${to.value}T00:00:00`).getTime()) || from.value > to.value) {
    mount(out, problemBox(new ApiProblem({ title: "Choose a range", detail: "Give a From date on or before the To date." })));
    return;
  }
  const fromIso = fromDate.toISOString();
  const toDate = new Date(`${to.value}T00:00:00`);
  toDate.setDate(toDate.getDate() + 1);
  const toIso = (toDate.getTime() > now.getTime() ? now : toDate).toISOString();
  let timer: ReturnType<typeof setTimeout> | undefined;
  ctx.onLeave(() => clearTimeout(timer));
  let automaticRetries = 0;
  const build = async (): Promise<void> => {
    clearTimeout(timer);
    mount(out, progress("Building the report"));
    try {
      await buildReport();
    } catch (e) {
      if (!(e instanceof ApiProblem && e.problem.status === 429)) {
        mount(out, problemBox(e));
        return;
      }
      // An instance builds at most two reports of a tenant at once (and a caller's requests are
      // rate limited): a 429 is a wait, not a fault. Try again after it a few times, then leave it to the reader.
      const waitMs = nextPollMs(e, retryMs);
      const automatic = automaticRetries < maxAutomaticRetries && !ctx.left();
      if (automatic) {
        automaticRetries++;
        timer = setTimeout(() => void build(), waitMs);
      }
      const retry = h("button", { type: "button", id: "report-retry" }, automatic ? "Try again now" : "Try again");
      retry.addEventListener("click", () => void build());
      mount(
        out,
        h(
          "div",
          { class: "info", id: "report-busy", role: "status" },
          h(
            "p",
            null,
            `Reports are busy: only a few are built at once, and the service asked to wait. ${automatic ? `Trying again in ${Math.ceil(waitMs / 1000)} s.` : "Try again in a moment."}`,
          ),
          e.problem.detail ? h("p", { class: "muted" }, e.problem.detail) : null,
          h("div", { class: "actions" }, retry),
        ),
      );
    }
  };
  const buildReport = async (): Promise<void> => {
    const report = await api.get<SessionReport>("/reports/sessions", { from: fromIso, to: toIso });
    // The timeline comes from the session history list (newest first), up to a bound.
    const sessions: Session[] = [];
    let token: string | undefined;
    let pagesRead = 0;
    let partial = false;
    do {
      const page: List<Session> = await api.get<List<Session>>("/sessions", { top: 100, continuationToken: token });
      pagesRead++;
      sessions.push(...page.value);
      token = page.continuationToken;
      if (page.value.length > 0 && page.value[page.value.length - 1].requestedAt < fromIso) break;
      partial = token !== undefined && (sessions.length >= maxSessionsForTimeline || pagesRead >= maxPagesForTimeline);
    } while (token && !partial);
    const inRange = sessions.filter((x) => x.requestedAt >= fromIso && x.requestedAt < toIso);

    const days: string[] = [];
    for (let d = new Date(`${from.value}T00:00:00`); d < toDate && days.length < 400; d.setDate(d.getDate() + 1)) days.push(isoDate(d));
    const byDayStatus = new Map<string, Map<string, number>>();
    const byDayOs = new Map<string, Map<string, number>>();
    const osSeen: string[] = [];
    for (const x of inRange) {
      const day = dayOf(x.requestedAt);
      const st = byDayStatus.get(day) ?? new Map<string, number>();
      st.set(x.status, (st.get(x.status) ?? 0) + 1);
      byDayStatus.set(day, st);
      const os = x.device.operatingSystem;
      if (!osSeen.includes(os)) osSeen.push(os);
      const o = byDayOs.get(day) ?? new Map<string, number>();
      o.set(os, (o.get(os) ?? 0) + 1);
      byDayOs.set(day, o);
    }

    mount(
      out,
      h(
        "div",
        { class: "kpis" },
        h("div", { class: "kpi" }, h("span", { class: "kpi-value", id: "report-total" }, String(report.total)), h("span", { class: "kpi-label" }, "sessions")),
        h(
          "div",
          { class: "kpi" },
          h("span", { class: "kpi-value", id: "report-accepted" }, String(report.accepted)),
          h("span", { class: "kpi-label" }, "accepted by the user"),
        ),
        h(
          "div",
          { class: "kpi" },
          h("span", { class: "kpi-value", id: "report-median" }, report.medianTimeToAcceptSeconds === null ? "—" : duration(report.medianTimeToAcceptSeconds)),
          h("span", { class: "kpi-label" }, "median time to accept"),
        ),
        h(
          "div",
          { class: "kpi" },
          h("span", { class: "kpi-value", id: "report-connected" }, String(report.connectedSessions ?? 0)),
          h("span", { class: "kpi-label" }, "connected by a supporter"),
        ),
        h(
          "div",
          { class: "kpi" },
          h("span", { class: "kpi-value", id: "report-connection-minutes" }, `${report.totalConnectionMinutes ?? 0} min`),
          h(
            "span",
            { class: "kpi-label" },
            report.medianConnectionMinutes == null ? "connected in all" : `connected in all (median ${report.medianConnectionMinutes} min)`,
          ),
        ),
        h(
          "div",
          { class: "kpi" },
          h("span", { class: "kpi-value", id: "report-never-connected" }, String(report.sessionsNeverConnected ?? 0)),
          h("span", { class: "kpi-label" }, "accepted, never connected"),
        ),
      ),
      stackedChart(
        "Sessions per day by status",
        days,
        sessionStatuses.map((k) => ({ key: k, label: statusText[k], colour: statusColours[k] })),
        byDayStatus,
      ),
      stackedChart(
        "Sessions per day by platform",
        days,
        osSeen.map((k, i) => ({ key: k, label: k, colour: palette[i % palette.length] })),
        byDayOs,
      ),
      partial
        ? h(
            "p",
            { class: "muted", id: "timeline-partial" },
            `The daily charts show the ${sessions.length} newest sessions read (at most ${maxSessionsForTimeline}); the totals below count all.`,
          )
        : null,
      h(
        "div",
        { class: "two-columns" },
        totalsChart(
          "By status",
          "report-by-status",
          sessionStatuses
            .filter((k) => (report.byStatus[k] ?? 0) > 0)
            .map((k) => ({ label: statusText[k], value: report.byStatus[k] ?? 0, colour: statusColours[k] })),
        ),
        totalsChart(
          "By platform",
          "report-by-platform",
          Object.entries(report.byPlatform).map(([k, v], i) => ({ label: k, value: v, colour: palette[i % palette.length] })),
        ),
      ),
      h("h2", null, "By requester"),
      report.byRequester.length === 0
        ? h("p", { class: "empty" }, "Nobody asked for a session in this range.")
        : h(
            "table",
            { class: "list", id: "report-by-requester" },
            h("thead", null, h("tr", null, h("th", { scope: "col" }, "Requested by"), h("th", { scope: "col" }, "Sessions"))),
            h(
              "tbody",
              null,
              report.byRequester.map((r) =>
                h("tr", null, h("td", null, `${r.displayName}${r.type === "automation" ? " (automation)" : ""}`), h("td", null, String(r.count))),
              ),
            ),
          ),
    );
  };
  await build();
}
