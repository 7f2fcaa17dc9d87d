// Small DOM helpers shared by the page's parts: element lookup and creation, the client event
// log, JSON and time formatting.

// How many client events the log keeps; older ones are dropped so a long session stays light.
const LOG_LINES = 200;

export const $ = (id) => document.getElementById(id);

// Runs `fn` for every event `name` of a socket or channel (the v15+ async-iterator API).
export function on(emitter, name, fn) {
  (async () => {
    for await (const event of emitter.listener(name)) fn(event);
  })();
}

// An element with a class and text (or children).
export function el(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (Array.isArray(content)) node.append(...content);
  else if (content !== undefined) node.textContent = content;
  return node;
}

// A clock time such as 14:03:27.
export function clock(date = new Date()) {
  return date.toLocaleTimeString([], {hour12: false});
}

// JSON on one line; a string as itself.
export function show(value) {
  if (value === undefined) return '(no data)';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// Text typed into an input: JSON if it parses, else the text itself.
export function parseInput(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// "12 s ago", "5 min ago", from an ISO time.
export function since(iso) {
  if (!iso) return '–';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

// The error of a failed call, as its SocketCluster name and message.
export function errorText(error) {
  if (!error) return 'unknown error';
  return error.name ? `${error.name}: ${error.message}` : String(error.message || error);
}

// Adds a line to the client event log; kind is info, ok, err or in.
export function log(kind, text) {
  const list = $('log');
  const line = el('li', kind, [el('time', '', clock()), el('span', '', text)]);
  list.prepend(line);
  while (list.children.length > LOG_LINES) list.lastChild.remove();
}

// Shows a call's outcome in a result line: ok (green) or err (red).
export function result(node, kind, text) {
  node.hidden = false;
  node.className = `result ${kind}`;
  node.textContent = text;
}
