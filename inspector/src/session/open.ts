/** Opens the session the page configuration asks for: the relay or a NATS websocket. */
import type { PageConfig } from '../../../src/inspection/wire.js';
import type { Api } from './api.js';
import { RelaySession } from './relay.js';
import type { Session } from './session.js';
import { WebsocketSession } from './websocket.js';

/** The session the service's page configuration asks for. */
export function openSession(config: PageConfig, api: Api): Session {
  return config.transport === 'websocket' && config.ws_url
    ? new WebsocketSession(config.ws_url, config.subjects.events)
    : new RelaySession(api);
}
