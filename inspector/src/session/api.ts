/**
 * The page's HTTP calls to its own origin, with the inspector's bearer token when it has
 * one. The token comes from the URL fragment (`#token=…`, removed from the address bar at
 * once and kept for this tab only) or from the prompt; it never leaves this origin.
 */

const STORAGE_KEY = 'cim-domain-nix-inspector-token';

/** The endpoint wants a token (none given, or the one given was refused). */
export class AuthRequired extends Error {
  constructor(readonly refused: boolean) {
    super(refused ? 'the inspector refused this token' : 'this inspector needs its token');
    this.name = 'AuthRequired';
  }
}

export class Api {
  private token: string | undefined;

  constructor(private readonly storage: Storage | undefined) {
    this.token = storage?.getItem(STORAGE_KEY) ?? undefined;
  }

  /** Take a token from `#token=…` (and drop it from the address bar and history entry). */
  static fromLocation(location: Location, history: History, storage: Storage | undefined): Api {
    const api = new Api(storage);
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      let token = m[1] ?? '';
      try {
        token = decodeURIComponent(token);
      } catch {
        // keep it as written
      }
      if (token) api.setToken(token);
      history.replaceState(null, '', location.pathname + location.search);
    }
    return api;
  }

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  setToken(token: string | undefined): void {
    this.token = token;
    if (token === undefined) this.storage?.removeItem(STORAGE_KEY);
    else this.storage?.setItem(STORAGE_KEY, token);
  }

  /** Headers for a call to this origin. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token === undefined ? extra : { ...extra, Authorization: `Bearer ${this.token}` };
  }

  /** `fetch` with the token; a 401 becomes {@link AuthRequired}. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(path, { ...init, cache: 'no-store', headers: this.headers((init.headers ?? {}) as Record<string, string>) });
    if (res.status === 401) throw new AuthRequired(this.token !== undefined);
    return res;
  }

  async getJson(path: string): Promise<unknown> {
    const res = await this.fetch(path);
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }
}
