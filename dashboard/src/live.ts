// The Control Panel's live events (WebSocket /ws), reconnecting with backoff.
// The server closes the socket with 4401 once the access token expires (or the account
// changed): the session is refreshed first, and the socket reopened with the new token.
import { ref } from "vue";
import { accessToken, refresh, type LiveEvent } from "./api";

export const connected = ref(false);

export function subscribe(onEvent: (e: LiveEvent) => void): () => void {
  let socket: WebSocket | null = null;
  let closed = false;
  let delay = 500;
  const open = () => {
    const token = accessToken();
    if (closed || !token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
    socket.onopen = () => {
      connected.value = true;
      delay = 500;
    };
    socket.onmessage = (m) => onEvent(JSON.parse(m.data) as LiveEvent);
    socket.onclose = (e) => {
      connected.value = false;
      if (closed) return;
      if (e.code === 4401) {
        void refresh().then((ok) => {
          if (ok) setTimeout(open, 0);
        });
        return;
      }
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  open();
  return () => {
    closed = true;
    socket?.close();
  };
}
