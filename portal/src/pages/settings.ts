// Settings and role assignments (Intune.Administrator): tenant settings, and who may
// request sessions or update the connector, tenant-wide or scoped to scope tags.
import { problemBox, type List } from "../api.js";
import type { PageContext } from "../context.js";
import { h, mount, progress, whileBusy } from "../dom.js";
import type { KnownUser, RoleAssignment, Settings } from "../types.js";

/** How a user is offered in the picker and recognised when typed back: "Name <upn>". */
const userLabel = (u: KnownUser): string => `${u.displayName} <${u.userPrincipalName}>`;
const isId = (v: string): boolean => /^[A-Za-z0-9-]{1,64}$/.test(v);

// Every permission the API assigns (`satisfies` keeps it the API's list); all but Request are tenant-wide.
const permissionText = {
  "RemoteAssistance.Request": "Request Remote Assistance",
  "RemoteAssistance.Update": "Update Remote Assistance",
  "RemoteAssistance.ViewReports": "View Reports",
  "RemoteAssistance.Approve": "Approve Remote Assistance",
} as const satisfies Record<RoleAssignment["permission"], string>;

export async function settingsPage(ctx: PageContext): Promise<void> {
  const { api } = ctx.app;
  const settingsSlot = h(
    "section",
    { "aria-labelledby": "settings-heading", class: "panel" },
    h("h2", { id: "settings-heading" }, "Tenant settings"),
    progress("Loading settings"),
  );
  const rolesSlot = h(
    "section",
    { "aria-labelledby": "roles-heading", class: "panel" },
    h("h2", { id: "roles-heading" }, "Role assignments"),
    progress("Loading role assignments"),
  );
  mount(ctx.root, h("h1", null, "Settings"), settingsSlot, rolesSlot);

  const loadSettings = async (): Promise<void> => {
    let current: Settings;
    try {
      current = await api.get<Settings>("/settings");
    } catch (e) {
      mount(settingsSlot, h("h2", { id: "settings-heading" }, "Tenant settings"), problemBox(e));
      return;
    }
    const unlicensed = h("input", { type: "checkbox", id: "allow-unlicensed", checked: current.allowUnlicensedAdmins });
    const windows = h("input", { type: "checkbox", id: "allow-windows-editions", checked: current.allowPossiblyUnsupportedWindowsEditions });
    const timeout = h("input", {
      type: "number",
      id: "session-timeout",
      min: "1",
      max: "1440",
      step: "1",
      required: true,
      value: String(current.sessionTimeoutMinutes),
    });
    const quota = h("input", {
      type: "number",
      id: "teamviewer-calls-per-minute",
      min: "1",
      max: "600",
      step: "1",
      required: true,
      value: String(current.teamViewerCallsPerMinute),
      "aria-describedby": "teamviewer-calls-help",
    });
    const ticketRequired = h("input", { type: "checkbox", id: "require-ticket-id", checked: current.requireTicketId === true });
    const approvalTags = h("input", {
      type: "text",
      id: "approval-scope-tags",
      value: (current.approvalRequiredScopeTags ?? []).join(", "),
      "aria-describedby": "approval-tags-help",
      class: "wide",
    });
    const approvalTimeout = h("input", {
      type: "number",
      id: "approval-timeout",
      min: "1",
      max: "1440",
      step: "1",
      required: true,
      value: String(current.approvalTimeoutMinutes ?? 60),
    });
    const tagsOf = (text: string): string[] =>
      text
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== "");
    const save = h("button", { type: "submit", class: "primary" }, "Save settings");
    const out = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      null,
      h("p", { class: "checkbox" }, unlicensed, h("label", { for: "allow-unlicensed" }, "Allow admins without an Intune license to connect the connector")),
      h(
        "p",
        { class: "checkbox" },
        windows,
        h("label", { for: "allow-windows-editions" }, "Allow possibly unsupported Windows editions (HoloLens, Surface Hub, Windows 10 S)"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "session-timeout" }, "Session timeout in minutes (1–1440): a request not accepted in time expires"),
        timeout,
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "teamviewer-calls-per-minute" }, "TeamViewer calls per minute (1–600)"),
        quota,
        h(
          "span",
          { class: "muted", id: "teamviewer-calls-help" },
          "Your TeamViewer licence's quota: Premium allows 14,400 calls a day, which is 10 a minute. Requests beyond it wait; they do not fail.",
        ),
      ),
      h(
        "p",
        { class: "checkbox" },
        ticketRequired,
        h("label", { for: "require-ticket-id" }, "Require a help-desk ticket with every remote assistance request"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "approval-scope-tags" }, "Scope tags whose devices need a second person's approval"),
        approvalTags,
        h("span", { class: "muted", id: "approval-tags-help" }, "Scope tag ids, separated by commas. Leave empty for no approvals."),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "approval-timeout" }, "Approval timeout in minutes (1–1440): a request nobody approves in time expires"),
        approvalTimeout,
      ),
      h("div", { class: "actions" }, save),
      out,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      mount(out);
      const patch: Record<string, unknown> = {};
      if (unlicensed.checked !== current.allowUnlicensedAdmins) patch.allowUnlicensedAdmins = unlicensed.checked;
      if (windows.checked !== current.allowPossiblyUnsupportedWindowsEditions) patch.allowPossiblyUnsupportedWindowsEditions = windows.checked;
      if (Number(timeout.value) !== current.sessionTimeoutMinutes) patch.sessionTimeoutMinutes = Number(timeout.value);
      if (Number(quota.value) !== current.teamViewerCallsPerMinute) patch.teamViewerCallsPerMinute = Number(quota.value);
      if (ticketRequired.checked !== (current.requireTicketId === true)) patch.requireTicketId = ticketRequired.checked;
      if (tagsOf(approvalTags.value).join(",") !== (current.approvalRequiredScopeTags ?? []).join(","))
        patch.approvalRequiredScopeTags = tagsOf(approvalTags.value);
      if (Number(approvalTimeout.value) !== (current.approvalTimeoutMinutes ?? 60)) patch.approvalTimeoutMinutes = Number(approvalTimeout.value);
      if (Object.keys(patch).length === 0) {
        mount(out, h("p", { class: "info" }, "Nothing changed."));
        return;
      }
      void whileBusy(save, "Saving", async () => {
        try {
          current = await api.request<Settings>("PATCH", "/settings", { body: patch });
          mount(out, h("p", { class: "success", role: "status" }, "Settings saved."));
        } catch (e) {
          mount(out, problemBox(e));
        }
      });
    });
    mount(settingsSlot, h("h2", { id: "settings-heading" }, "Tenant settings"), form);
  };

  // The users the service knows, by id: names for the table and choices for the picker.
  // Read once per page view (a few pages at most); a search narrows beyond that.
  const users = new Map<string, KnownUser>();
  const loadUsers = async (search?: string): Promise<void> => {
    let token: string | undefined;
    for (let page = 0; page < 5; page++) {
      const list: List<KnownUser> = await api.get<List<KnownUser>>("/users", { top: 200, search, continuationToken: token });
      for (const u of list.value) users.set(u.id, u);
      token = list.continuationToken;
      if (!token) return;
    }
  };

  const principalCell = (a: RoleAssignment): HTMLElement => {
    const id = h("code", { class: "id", title: a.principalId }, a.principalId);
    if (a.principalType === "user") {
      const u = users.get(a.principalId);
      return h(
        "td",
        { "data-principal-id": a.principalId },
        u ? [h("strong", null, u.displayName), " ", h("span", { class: "muted" }, u.userPrincipalName)] : ["User ", id],
      );
    }
    // The service learns no group names: the members it knows say which group this is.
    const members = [...users.values()]
      .filter((u) => u.groups.includes(a.principalId))
      .map((u) => u.displayName)
      .sort();
    const known =
      members.length === 0 ? "no known members" : `members: ${members.slice(0, 3).join(", ")}${members.length > 3 ? ` and ${members.length - 3} more` : ""}`;
    return h("td", { "data-principal-id": a.principalId }, "Group ", id, h("span", { class: "muted" }, ` (${known})`));
  };

  // Only the newest load renders: a slow answer that started before a change never
  // paints over the list that followed it.
  let rolesGeneration = 0;
  const loadRoles = async (): Promise<void> => {
    const generation = ++rolesGeneration;
    let list: List<RoleAssignment>;
    try {
      [list] = await Promise.all([api.get<List<RoleAssignment>>("/roleAssignments"), users.size === 0 ? loadUsers() : Promise.resolve()]);
    } catch (e) {
      if (generation === rolesGeneration) mount(rolesSlot, h("h2", { id: "roles-heading" }, "Role assignments"), problemBox(e));
      return;
    }
    if (generation !== rolesGeneration) return;
    const out = h("div", { "aria-live": "polite" });
    const nameOf = (a: RoleAssignment): string =>
      a.principalType === "user" ? (users.get(a.principalId)?.displayName ?? `user ${a.principalId}`) : `group ${a.principalId}`;
    const table =
      list.value.length === 0
        ? h("p", { class: "empty" }, "No role assignments. App roles in Entra ID still apply.")
        : h(
            "table",
            { class: "list", id: "role-table" },
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                ["Principal", "Permission", "Scope", ""].map((c) => h("th", { scope: "col" }, c)),
              ),
            ),
            h(
              "tbody",
              null,
              list.value.map((a) => {
                const del = h("button", { type: "button", class: "small danger", "aria-label": `Delete the assignment for ${nameOf(a)}` }, "Delete");
                del.addEventListener(
                  "click",
                  () =>
                    void whileBusy(del, "Deleting", async () => {
                      try {
                        await api.request("DELETE", `/roleAssignments/${encodeURIComponent(a.id)}`);
                        await loadRoles();
                      } catch (e) {
                        mount(out, problemBox(e));
                      }
                    }),
                );
                return h(
                  "tr",
                  null,
                  principalCell(a),
                  h("td", null, permissionText[a.permission as keyof typeof permissionText] ?? a.permission),
                  h("td", null, a.scopeTags.length === 0 ? "Whole tenant" : `Scope tags: ${a.scopeTags.join(", ")}`),
                  h("td", null, del),
                );
              }),
            ),
          );

    const principalType = h("select", { id: "ra-type" }, h("option", { value: "user" }, "User"), h("option", { value: "group" }, "Group"));
    const choices = h("datalist", { id: "ra-users" });
    const fillChoices = (): void =>
      mount(
        choices,
        [...users.values()].sort((x, y) => x.displayName.localeCompare(y.displayName)).map((u) => h("option", { value: userLabel(u) })),
      );
    fillChoices();
    const principal = h("input", {
      id: "ra-principal",
      required: true,
      autocomplete: "off",
      list: "ra-users",
      placeholder: "name or user principal name",
      "aria-describedby": "ra-principal-help",
    });
    const principalHelp = h("span", { class: "muted", id: "ra-principal-help" }, "Pick a user the service knows, or paste an object id");
    principalType.addEventListener("change", () => {
      const user = principalType.value === "user";
      principal.setAttribute("list", user ? "ra-users" : "");
      principal.placeholder = user ? "name or user principal name" : "group object id";
      principalHelp.textContent = user ? "Pick a user the service knows, or paste an object id" : "The group's object id in Entra ID";
    });
    // Typing narrows the choices from the service when the first pages did not hold everyone.
    let searchTimer: ReturnType<typeof setTimeout> | undefined;
    principal.addEventListener("input", () => {
      clearTimeout(searchTimer);
      const text = principal.value.trim();
      if (principalType.value !== "user" || text.length < 2 || text.includes("<")) return;
      searchTimer = setTimeout(() => void loadUsers(text).then(fillChoices, () => undefined), 300);
    });
    /** The object id the field names: a picked "Name <upn>", a unique name or UPN, or an id. */
    const resolvePrincipal = (): string | undefined => {
      const text = principal.value.trim();
      if (principalType.value === "group") return isId(text) ? text : undefined;
      const lower = text.toLowerCase();
      const matches = [...users.values()].filter(
        (u) => userLabel(u).toLowerCase() === lower || u.userPrincipalName.toLowerCase() === lower || u.displayName.toLowerCase() === lower,
      );
      if (matches.length === 1) return matches[0].id;
      return matches.length === 0 && isId(text) ? text : undefined;
    };
    const permission = h(
      "select",
      { id: "ra-permission" },
      Object.entries(permissionText).map(([v, l]) => h("option", { value: v }, l)),
    );
    const tags = h("input", { id: "ra-tags", autocomplete: "off", placeholder: "empty = whole tenant", "aria-describedby": "ra-tags-help" });
    const add = h("button", { type: "submit", class: "primary" }, "Add assignment");
    const form = h(
      "form",
      { class: "filters", "aria-label": "Add a role assignment" },
      h("div", { class: "field" }, h("label", { for: "ra-type" }, "Principal type"), principalType),
      h("div", { class: "field" }, h("label", { for: "ra-principal" }, "Who"), principal, choices, principalHelp),
      h("div", { class: "field" }, h("label", { for: "ra-permission" }, "Permission"), permission),
      h("div", { class: "field" }, h("label", { for: "ra-tags" }, "Scope tags"), tags, h("span", { class: "muted", id: "ra-tags-help" }, "Comma-separated")),
      h("div", { class: "field" }, add),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      mount(out);
      const principalId = resolvePrincipal();
      if (principalId === undefined) {
        mount(
          out,
          h(
            "p",
            { class: "error-text", role: "alert", id: "ra-principal-problem" },
            principalType.value === "user"
              ? "Pick one user from the list (or paste their object id): no single user the service knows has that name or user principal name."
              : "Enter the group's object id (letters, digits and dashes).",
          ),
        );
        principal.focus();
        return;
      }
      void whileBusy(add, "Adding", async () => {
        try {
          await api.request("PUT", `/roleAssignments/${crypto.randomUUID()}`, {
            body: {
              principalId,
              principalType: principalType.value,
              permission: permission.value,
              scopeTags: tags.value
                .split(",")
                .map((t) => t.trim())
                .filter((t) => t !== ""),
            },
          });
          await loadRoles();
        } catch (e) {
          mount(out, problemBox(e));
        }
      });
    });
    mount(rolesSlot, h("h2", { id: "roles-heading" }, "Role assignments"), table, h("h3", null, "Add an assignment"), form, out);
  };

  await Promise.all([loadSettings(), loadRoles()]);
}
