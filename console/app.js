// The people-api console: sign in with Cognito, then manage people through the API, as any client.
// Plain browser JavaScript, no dependencies. Settings come from config.js (window.PEOPLE_CONSOLE_CONFIG).
"use strict";

(() => {
  const config = window.PEOPLE_CONSOLE_CONFIG;
  const SESSION_KEY = "people-console.session";
  const REFRESH_MARGIN_MS = 60 * 1000; // refresh the ID token a minute before it expires
  const PAGE_SIZE = 10;
  const HISTORY_PAGE_SIZE = 20;

  const $ = (id) => document.getElementById(id);

  // --- errors: every failure the user sees is a problem with a title and a detail ---------------

  class Problem extends Error {
    constructor(title, detail, { status = 0, fields = [], body = null, hint = "" } = {}) {
      super(`${title}: ${detail}`);
      this.title = title;
      this.detail = detail;
      this.status = status;
      this.fields = fields;
      this.body = body;
      this.hint = hint;
    }
  }

  function showProblem(problem) {
    $("problem-title").textContent = problem.title || "Error";
    $("problem-detail").textContent = problem.detail || "";
    const list = $("problem-fields");
    list.replaceChildren(...(problem.fields || []).map((f) => el("li", {}, `${f.field}: ${f.message}`)));
    $("problem-hint").textContent = problem.hint || "";
    $("problem-hint").hidden = !problem.hint;
    $("problem").hidden = false;
  }

  function clearMessages() {
    $("problem").hidden = true;
    $("notice").hidden = true;
  }

  function notify(text) {
    $("notice").textContent = text;
    $("notice").hidden = false;
  }

  function report(error) {
    if (error instanceof Problem) {
      showProblem(error);
    } else {
      showProblem(new Problem("Unexpected error", String(error && error.message ? error.message : error)));
    }
  }

  // --- DOM helpers (text only: nothing from the API is ever parsed as HTML) -------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "onclick") node.addEventListener("click", value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function show(viewId) {
    for (const id of ["sign-in-view", "list-view", "edit-view", "history-view"]) {
      $(id).hidden = id !== viewId;
    }
  }

  function shortTime(iso) {
    return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace(/Z$/, " UTC") : "";
  }

  // --- Cognito: InitiateAuth (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH), RevokeToken -----------------

  const COGNITO_TITLES = {
    NotAuthorizedException: "Sign-in refused",
    UserNotFoundException: "Sign-in refused",
    UserNotConfirmedException: "Account not confirmed",
    PasswordResetRequiredException: "Password reset required",
    TooManyRequestsException: "Too many attempts",
    InvalidParameterException: "Invalid sign-in request",
  };

  async function cognito(action, body) {
    let response;
    try {
      response = await fetch(config.cognito_endpoint.replace(/\/$/, "") + "/", {
        method: "POST",
        headers: {
          "Content-Type": "application/x-amz-json-1.1",
          "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
        },
        body: JSON.stringify(body),
      });
    } catch (error) {
      throw new Problem("Cannot reach the sign-in service", `${config.cognito_endpoint}: ${error.message}`);
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const type = String(data.__type || response.headers.get("x-amzn-ErrorType") || "Error")
        .split("#")
        .pop()
        .split(":")[0];
      throw new Problem(COGNITO_TITLES[type] || type, data.message || `HTTP ${response.status}`, {
        status: response.status,
      });
    }
    return data;
  }

  function claimsOf(jwt) {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  function sessionFrom(result, previous) {
    const claims = claimsOf(result.IdToken);
    return {
      idToken: result.IdToken,
      accessToken: result.AccessToken,
      refreshToken: result.RefreshToken || (previous && previous.refreshToken),
      expiresAt: claims.exp * 1000,
      email: claims.email || claims["cognito:username"] || "",
      sub: claims.sub,
      groups: [].concat(claims["cognito:groups"] || []),
    };
  }

  function loadSession() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION_KEY));
    } catch {
      return null;
    }
  }

  function saveSession(session) {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    scheduleRefresh(session);
  }

  let refreshTimer = null;
  let refreshing = null;

  function scheduleRefresh(session) {
    clearTimeout(refreshTimer);
    const wait = Math.max(session.expiresAt - Date.now() - REFRESH_MARGIN_MS, 0);
    // Browsers fire long timers early or late; freshToken() checks again before every call anyway.
    refreshTimer = setTimeout(() => freshToken().catch(() => {}), Math.min(wait, 2 ** 31 - 1));
  }

  async function signIn(email, password) {
    const data = await cognito("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: config.client_id,
      AuthParameters: { USERNAME: email, PASSWORD: password },
    });
    if (data.ChallengeName) {
      throw new Problem(
        "Password change required",
        `Cognito asks for ${data.ChallengeName}: set a permanent password for this user first (see the README).`,
      );
    }
    saveSession(sessionFrom(data.AuthenticationResult, null));
  }

  async function refresh(session) {
    const data = await cognito("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH",
      ClientId: config.client_id,
      AuthParameters: { REFRESH_TOKEN: session.refreshToken },
    });
    const renewed = sessionFrom(data.AuthenticationResult, session);
    saveSession(renewed);
    return renewed;
  }

  // The ID token to send, refreshed first when it expires within the margin.
  async function freshToken() {
    const session = loadSession();
    if (!session) throw sessionEnded(new Problem("Signed out", "Sign in to continue."));
    if (session.expiresAt - Date.now() > REFRESH_MARGIN_MS) return session.idToken;
    if (!refreshing) {
      refreshing = refresh(session).finally(() => {
        refreshing = null;
      });
    }
    try {
      return (await refreshing).idToken;
    } catch (error) {
      throw sessionEnded(error instanceof Problem ? error : new Problem("Session ended", String(error)));
    }
  }

  function sessionEnded(problem) {
    problem.sessionEnded = true;
    return problem;
  }

  async function signOut() {
    const session = loadSession();
    sessionStorage.removeItem(SESSION_KEY);
    clearTimeout(refreshTimer);
    if (session && session.refreshToken) {
      // Best effort: the tokens already issued stay valid until they expire (see the README).
      cognito("RevokeToken", { Token: session.refreshToken, ClientId: config.client_id }).catch(() => {});
    }
  }

  // --- the API ---------------------------------------------------------------------------------------

  function apiUrl(path) {
    return config.api_url.replace(/\/$/, "") + path;
  }

  // The next page's URL: Link targets are absolute paths that include the API's stage prefix.
  function nextLink(response) {
    const link = response.headers.get("Link") || "";
    const match = /<([^>]*)>\s*;\s*rel="?next"?/.exec(link);
    return match ? new URL(match[1], config.api_url).href : null;
  }

  async function api(method, path, { body, headers = {}, contentType = "application/json", url } = {}) {
    const token = await freshToken();
    const sent = { Authorization: `Bearer ${token}`, ...headers };
    if (body !== undefined) sent["Content-Type"] = contentType;
    let response;
    try {
      response = await fetch(url || apiUrl(path), {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new Problem("Cannot reach the API", `${config.api_url}: ${error.message}`);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const problem = new Problem(
        (data && data.title) || `HTTP ${response.status}`,
        (data && data.detail) || text.slice(0, 200) || response.statusText,
        { status: response.status, fields: (data && data.errors) || [], body: data },
      );
      if (response.status === 401) throw sessionEnded(problem);
      throw problem;
    }
    return { data, response };
  }

  // --- state -------------------------------------------------------------------------------------

  const state = {
    owner: null, // another owner's sub (admins only), or null for the caller's own people
    pageUrls: [], // the URL of each page seen, to go back to the first
    next: null,
    editing: null, // { id, etag } while editing, null while creating
    idempotencyKey: null,
    historyOf: null,
    historyNext: null,
  };

  function isAdmin() {
    const session = loadSession();
    return Boolean(session && session.groups.includes("admins"));
  }

  // --- views ---------------------------------------------------------------------------------------

  function showSignIn() {
    $("who").hidden = true;
    show("sign-in-view");
    $("email").focus();
  }

  function showSignedIn() {
    const session = loadSession();
    $("user-email").textContent = session.email;
    $("my-sub").textContent = session.sub;
    $("admin-badge").hidden = !isAdmin();
    $("owner-form").hidden = !isAdmin();
    $("who").hidden = false;
  }

  function act(action) {
    return () => {
      clearMessages();
      guarded(action);
    };
  }

  async function guarded(action) {
    try {
      await action();
    } catch (error) {
      if (error && error.sessionEnded) {
        await signOut();
        showSignIn();
        showProblem(
          new Problem(error.title, error.detail, {
            status: error.status,
            hint: "Your session has ended: sign in again.",
          }),
        );
        return;
      }
      report(error);
    }
  }

  async function loadList(url) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.owner) query.set("owner", state.owner);
    const target = url || apiUrl(`/people?${query}`);
    const { data, response } = await api("GET", null, { url: target });
    if (!url) state.pageUrls = [];
    state.pageUrls.push(target);
    state.next = nextLink(response);
    renderList(data);
    showSignedIn();
    show("list-view");
  }

  function renderList(people) {
    $("list-title").textContent = state.owner ? `People of ${state.owner}` : "Your people";
    $("owner").value = state.owner || "";
    $("new-person").hidden = Boolean(state.owner); // a new person is always the caller's own
    const rows = people.map((person) =>
      el(
        "tr",
        { dataset: { id: person.id } },
        el("td", { class: "name" }, person.name),
        el("td", {}, person.email || ""),
        el("td", {}, person.phone || ""),
        el("td", {}, (person.tags || []).map((tag) => el("span", { class: "tag" }, tag))),
        el("td", { class: "version" }, String(person.version)),
        el("td", {}, shortTime(person.updated_at)),
        el(
          "td",
          { class: "actions-cell" },
          el("button", { type: "button", class: "link", onclick: act(() => openEdit(person.id)) }, "Edit"),
          el(
            "button",
            { type: "button", class: "link", onclick: act(() => openHistory(person)) },
            "History",
          ),
          el(
            "button",
            { type: "button", class: "link danger-text", onclick: () => confirmDelete(person) },
            "Delete",
          ),
        ),
      ),
    );
    $("people").querySelector("tbody").replaceChildren(...rows);
    $("people").hidden = people.length === 0;
    $("empty").hidden = people.length !== 0;
    $("next-page").disabled = !state.next;
    $("first-page").disabled = state.pageUrls.length <= 1;
  }

  // --- create and edit --------------------------------------------------------------------------

  const FIELDS = ["name", "email", "phone", "notes", "tags"];

  function fillForm(person) {
    for (const field of FIELDS) {
      const value = person ? person[field] : null;
      $(`f-${field}`).value = field === "tags" ? (value || []).join(", ") : value || "";
    }
  }

  function formBody() {
    const body = {};
    for (const field of FIELDS) {
      const raw = $(`f-${field}`).value;
      if (field === "tags") {
        const tags = raw
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean);
        if (tags.length) body.tags = tags;
      } else if (raw.trim() !== "" || field === "name") {
        body[field] = field === "notes" ? raw : raw.trim();
      }
    }
    return body; // PUT replaces the person: an omitted optional field is cleared
  }

  function openCreate() {
    state.editing = null;
    // One key per new person: a retry after a lost answer cannot create it twice.
    state.idempotencyKey = crypto.randomUUID();
    $("form-title").textContent = "New person";
    $("conflict").hidden = true;
    fillForm(null);
    show("edit-view");
    $("f-name").focus();
  }

  async function openEdit(id) {
    const { data, response } = await api("GET", `/people/${encodeURIComponent(id)}`);
    state.editing = { id, etag: response.headers.get("ETag") };
    $("form-title").textContent = `Edit ${data.name}`;
    $("conflict").hidden = true;
    fillForm(data);
    show("edit-view");
    $("f-name").focus();
  }

  async function save() {
    const body = formBody();
    if (!state.editing) {
      const { data } = await api("POST", "/people", {
        body,
        headers: { "Idempotency-Key": `"${state.idempotencyKey}"` },
      });
      await loadList();
      notify(`Created ${data.name}.`);
      return;
    }
    try {
      const { data } = await api("PUT", `/people/${encodeURIComponent(state.editing.id)}`, {
        body,
        headers: { "If-Match": state.editing.etag },
      });
      await reloadCurrentPage();
      notify(`Saved ${data.name} (version ${data.version}).`);
    } catch (error) {
      if (error instanceof Problem && error.status === 412) {
        await showConflict(error);
        return;
      }
      throw error;
    }
  }

  async function showConflict(problem) {
    const { data, response } = await api("GET", `/people/${encodeURIComponent(state.editing.id)}`);
    state.conflict = { person: data, etag: response.headers.get("ETag") };
    $("conflict-version").textContent = `version ${data.version}, changed ${shortTime(data.updated_at)}`;
    const rows = FIELDS.flatMap((field) => {
      const value = field === "tags" ? (data.tags || []).join(", ") : data[field];
      return [el("dt", {}, field), el("dd", { "data-field": field }, value || "—")];
    });
    $("conflict-person").replaceChildren(...rows);
    $("conflict").hidden = false;
    showProblem(problem);
  }

  async function retryMine() {
    state.editing.etag = state.conflict.etag;
    $("conflict").hidden = true;
    clearMessages();
    await save();
  }

  function takeTheirs() {
    state.editing.etag = state.conflict.etag;
    fillForm(state.conflict.person);
    $("conflict").hidden = true;
    clearMessages();
    notify(`Loaded version ${state.conflict.person.version}: make your changes again.`);
  }

  async function reloadCurrentPage() {
    const current = state.pageUrls.pop();
    await loadList(state.pageUrls.length ? current : undefined);
  }

  // --- delete ------------------------------------------------------------------------------------

  let pendingDelete = null;

  function confirmDelete(person) {
    clearMessages();
    pendingDelete = person;
    $("confirm-text").textContent = `Delete ${person.name}? Their history stays readable.`;
    $("confirm-delete").showModal();
  }

  async function deleteConfirmed() {
    const person = pendingDelete;
    pendingDelete = null;
    $("confirm-delete").close();
    await api("DELETE", `/people/${encodeURIComponent(person.id)}`, {
      headers: { "If-Match": `"${person.version}"` },
    });
    await reloadCurrentPage();
    notify(`Deleted ${person.name}.`);
  }

  // --- history -----------------------------------------------------------------------------------

  async function openHistory(person) {
    state.historyOf = person;
    $("history").replaceChildren();
    $("history-title").textContent = `History of ${person.name}`;
    await loadHistory(null);
    show("history-view");
  }

  async function loadHistory(url) {
    const path = `/people/${encodeURIComponent(state.historyOf.id)}/history?limit=${HISTORY_PAGE_SIZE}`;
    const { data, response } = await api("GET", path, url ? { url } : {});
    state.historyNext = nextLink(response);
    const items = data.map((entry) => {
      const kind = String(entry.type).split(".").pop();
      const version = (entry.after || entry.before || {}).version;
      return el(
        "li",
        { dataset: { type: kind } },
        el("strong", {}, `${kind}${version ? ` → version ${version}` : ""}`),
        el(
          "div",
          { class: "meta" },
          `${shortTime(entry.time)}${entry.actor ? ` · by ${entry.actor}` : ""}` +
            (entry.changed_fields && entry.changed_fields.length ? ` · ${entry.changed_fields.join(", ")}` : ""),
        ),
      );
    });
    $("history").append(...items);
    $("history-empty").hidden = $("history").children.length !== 0;
    $("history-more").disabled = !state.historyNext;
  }

  // --- wiring ------------------------------------------------------------------------------------

  function on(id, event, handler) {
    $(id).addEventListener(event, (e) => {
      if (event === "submit") e.preventDefault();
      clearMessages();
      guarded(() => handler(e));
    });
  }

  function start() {
    $("stage").textContent = config ? `stage: ${config.stage}` : "";
    if (!config) {
      show(null);
      showProblem(new Problem("Not configured", "config.js is missing: serve the console with `make run`."));
      return;
    }
    on("sign-in-form", "submit", async () => {
      await signIn($("email").value.trim(), $("password").value);
      $("password").value = "";
      state.owner = null;
      await loadList();
    });
    on("sign-out", "click", async () => {
      await signOut();
      showSignIn();
      notify("You are signed out.");
    });
    on("problem-close", "click", () => {});
    on("new-person", "click", openCreate);
    on("reload", "click", () => loadList());
    on("first-page", "click", () => loadList());
    on("next-page", "click", () => loadList(state.next));
    on("owner-form", "submit", () => {
      state.owner = $("owner").value.trim() || null;
      return loadList();
    });
    on("owner-clear", "click", () => {
      state.owner = null;
      return loadList();
    });
    on("person-form", "submit", save);
    on("cancel-edit", "click", () => reloadCurrentPage());
    on("retry-mine", "click", retryMine);
    on("take-theirs", "click", takeTheirs);
    on("confirm-cancel", "click", () => $("confirm-delete").close());
    on("confirm-yes", "click", deleteConfirmed);
    on("history-more", "click", () => loadHistory(state.historyNext));
    on("history-reload", "click", () => openHistory(state.historyOf));
    on("history-back", "click", () => reloadCurrentPage());

    const session = loadSession();
    if (session) {
      scheduleRefresh(session);
      guarded(() => loadList());
    } else {
      showSignIn();
    }
  }

  start();
})();
