// REST client for /v1.0alpha: JSON bodies, X-Auth-Token, list shapes, multipart uploads.

export const API = "/v1.0alpha";
const STORAGE_KEY = "hanami.session";

export class ApiError extends Error {
  constructor(status, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
  }
}

let session = load();
const listeners = new Set();

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE_KEY)) || null;
  } catch {
    return null;
  }
}

function decodeJwt(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""));
    return JSON.parse(json);
  } catch {
    return {};
  }
}

/** The logged-in user: {id, name, is_admin, token, project, role, expires} or null. */
export const getSession = () => session;

export function setSession(login) {
  if (!login) {
    session = null;
    sessionStorage.removeItem(STORAGE_KEY);
  } else {
    const claims = decodeJwt(login.token);
    session = {
      id: login.id,
      name: login.name,
      is_admin: Boolean(login.is_admin),
      token: login.token,
      project: claims.pid || "",
      role: claims.role || "",
      expires: claims.exp ? claims.exp * 1000 : null,
    };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  }
  for (const fn of listeners) fn(session);
}

export const onSessionChange = (fn) => listeners.add(fn);

function buildUrl(path, params) {
  const url = new URL(`${API}/${path}`, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  return url;
}

async function failure(response) {
  const text = (await response.text()).trim();
  if (response.status === 401 && session) {
    setSession(null); // token expired or revoked: back to the login page
  }
  return new ApiError(response.status, text || response.statusText);
}

export async function request(method, path, data) {
  const headers = {};
  if (session) headers["X-Auth-Token"] = session.token;
  let url;
  let body;
  if (method === "GET" || method === "DELETE") {
    url = buildUrl(path, data);
  } else {
    url = buildUrl(path);
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(data || {});
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body, cache: "no-store" });
  } catch {
    throw new ApiError(0, "The server can not be reached");
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

export const get = (path, params) => request("GET", path, params);
export const post = (path, body) => request("POST", path, body);
export const put = (path, body) => request("PUT", path, body);
export const del = (path, params) => request("DELETE", path, params);

/** {header, body} -> array of objects keyed by the header. */
export function rows(list) {
  return (list.body || []).map((row) =>
    Object.fromEntries(list.header.map((name, i) => [name, row[i]])));
}

export const getRows = async (path, params) => rows(await get(path, params));

/** The base64 of a UTF-8 string (passphrases, templates). */
export function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export async function login(id, passphrase) {
  const answer = await post("token", { id, passphrase: b64(passphrase) });
  setSession(answer);
  return answer;
}

export async function switchProject(projectId) {
  const answer = await put("token", { project_id: projectId });
  setSession(answer);
  return answer;
}

export const logout = () => setSession(null);

/** Multipart POST with upload progress (fetch has none): onProgress(sent, total). */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}/${path}`);
    if (session) xhr.setRequestHeader("X-Auth-Token", session.token);
    xhr.upload.onprogress = (e) => onProgress && onProgress(e.loaded, e.total || 0);
    xhr.upload.onload = () => onProgress && onProgress(-1, -1); // sent; server converts
    xhr.onerror = () => reject(new ApiError(0, "The upload failed (network error)"));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(JSON.parse(xhr.responseText));
      } else {
        if (xhr.status === 401 && session) setSession(null);
        reject(new ApiError(xhr.status, xhr.responseText.trim() || xhr.statusText));
      }
    };
    xhr.send(form);
  });
}

/** GET a file as a Blob and hand it to the browser as a download. */
export async function download(path, params, filename) {
  const response = await fetch(buildUrl(path, params), {
    headers: session ? { "X-Auth-Token": session.token } : {},
  });
  if (!response.ok) throw await failure(response);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

/** Rows [offset, offset+count) of a column group, fetched in pages of at most 10000. */
export async function datasetRows(uuid, column, offset, count) {
  const out = [];
  for (let start = offset; start < offset + count; start += 10000) {
    const n = Math.min(10000, offset + count - start);
    const { data } = await get("dataset/content", {
      uuid, column_name: column, row_offset: start, number_of_rows: n,
    });
    out.push(...data);
  }
  return out;
}

const infoCache = new Map();

/** GET dataset (cached: a finished dataset never changes). */
export async function datasetInfo(uuid) {
  if (!infoCache.has(uuid)) {
    const promise = get("dataset", { uuid });
    infoCache.set(uuid, promise);
    promise.catch(() => infoCache.delete(uuid));
  }
  return infoCache.get(uuid);
}

/** Column groups of a dataset description: [{name, start, end, width}] in column order. */
export function columnGroups(info) {
  return Object.entries(info.description || {})
    .map(([name, c]) => ({ name, start: c.column_start, end: c.column_end,
      width: c.column_end - c.column_start }))
    .sort((a, b) => a.start - b.start);
}

/** Remembered per request task: the dataset its inputs came from (default reference). */
export const rememberRequest = (task, info) =>
  localStorage.setItem(`hanami.request.${task}`, JSON.stringify(info));
export function requestInfo(task) {
  try {
    return JSON.parse(localStorage.getItem(`hanami.request.${task}`)) || null;
  } catch {
    return null;
  }
}
