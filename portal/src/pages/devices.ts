// Devices → All devices: search, platform and eligibility filters, paging; each row says
// whether remote assistance is possible and, if not, why in plain words.
import type { List } from "../api.js";
import { hashFor, type PageContext } from "../context.js";
import { h, mount, time } from "../dom.js";
import { pagedList } from "../pagedList.js";
import { platformText, type Device } from "../types.js";

export function eligibilityCell(d: Device): HTMLElement {
  const ra = d.remoteAssistance;
  if (d.removed)
    return h("span", { class: "not-eligible" }, "Not possible: ", h("span", { class: "reason" }, ra.reasonText ?? "the device was removed from management."));
  if (!ra.eligible) {
    return h(
      "span",
      { class: "not-eligible" },
      h("span", { "aria-hidden": "true" }, "✕ "),
      "Not possible: ",
      h("span", { class: "reason" }, ra.reasonText ?? ra.reason ?? "not supported"),
    );
  }
  return h(
    "span",
    { class: "eligible" },
    h("span", { "aria-hidden": "true" }, "✓ "),
    "Possible",
    ra.notificationChannel === "none" ? h("span", { class: "muted" }, " (user can't be notified in the Company Portal)") : null,
  );
}

/** The page sizes offered; the API takes `top` as plain decimal digits only. */
const pageSizes = [10, 25, 50, 100] as const;
const defaultPageSize = 25;

/** The page size the address asks for when it is one offered, else the default (an edited address sends nothing else). */
function pageSizeOf(value: string | null): number {
  return pageSizes.find((size) => String(size) === value) ?? defaultPageSize;
}

export async function devicesPage(ctx: PageContext): Promise<void> {
  const { api } = ctx.app;
  const q = ctx.query;
  const pageSize = pageSizeOf(q.get("top"));
  const search = h("input", { type: "search", id: "device-search", name: "search", value: q.get("search") ?? "", maxlength: "100", autocomplete: "off" });
  const platform = h(
    "select",
    { id: "device-platform", name: "platform" },
    h("option", { value: "" }, "All platforms"),
    Object.entries(platformText).map(([value, label]) => h("option", { value, selected: q.get("platform") === value }, label)),
  );
  const eligible = h(
    "select",
    { id: "device-eligible", name: "eligible" },
    h("option", { value: "" }, "Any"),
    h("option", { value: "true", selected: q.get("eligible") === "true" }, "Possible"),
    h("option", { value: "false", selected: q.get("eligible") === "false" }, "Not possible"),
  );
  const top = h(
    "select",
    { id: "device-top", name: "top" },
    pageSizes.map((size) => h("option", { value: String(size), selected: size === pageSize }, String(size))),
  );
  const form = h(
    "form",
    { role: "search", class: "filters", "aria-label": "Filter devices" },
    h("div", { class: "field" }, h("label", { for: "device-search" }, "Search (device or user name)"), search),
    h("div", { class: "field" }, h("label", { for: "device-platform" }, "Platform"), platform),
    h("div", { class: "field" }, h("label", { for: "device-eligible" }, "Remote assistance"), eligible),
    h("div", { class: "field" }, h("label", { for: "device-top" }, "Per page"), top),
    h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, "Search")),
  );
  const results = h("div", { id: "device-results", "aria-live": "polite" });
  mount(ctx.root, h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, "Devices › All devices"), h("h1", null, "All devices"), form, results);

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate("/devices", { search: search.value.trim(), platform: platform.value, eligible: eligible.value, top: top.value });
  });

  await pagedList<Device>(results, {
    loading: "Loading devices",
    empty: "No devices match these filters.",
    fetch: (continuationToken) =>
      api.get<List<Device>>("/devices", {
        search: q.get("search"),
        platform: q.get("platform"),
        eligible: q.get("eligible"),
        top: pageSize,
        continuationToken,
      }),
    render: (devices) =>
      h(
        "table",
        { class: "list", id: "device-table" },
        h("caption", { class: "visually-hidden" }, "Devices"),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Device", "Primary user", "Platform", "Ownership", "Last sync", "Remote assistance"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        h(
          "tbody",
          null,
          devices.map((d) =>
            h(
              "tr",
              { "data-device-id": d.id, "data-device-name": d.deviceName },
              h("th", { scope: "row" }, h("a", { href: hashFor(`/devices/${encodeURIComponent(d.id)}`) }, d.deviceName)),
              h("td", null, d.userDisplayName ?? h("span", { class: "muted" }, "No primary user")),
              h("td", null, `${d.operatingSystem} ${d.osVersion}`),
              h("td", null, d.ownership),
              h("td", null, time(d.lastSyncDateTime)),
              h("td", null, eligibilityCell(d)),
            ),
          ),
        ),
      ),
  });
}
