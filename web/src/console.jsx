// console.jsx - the VM's serial console in the browser: xterm.js over a
// WebSocket to kumod (/portal/api/console/GROUP/VM), the same console that
// `kumo vm console` attaches to. The session's CSRF token rides in the
// subprotocol list (a browser cannot set headers on a WebSocket).
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { getCsrf } from './api.js';

export function Console({ rg, vm }) {
  const box = useRef(null);
  const [status, setStatus] = useState({ state: 'connecting', text: 'Connecting…' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const term = new Terminal({
      convertEol: false,
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#10151c', foreground: '#e6e6e6', cursor: '#8fd18f' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current);
    fit.fit();
    const ro = new ResizeObserver(() => fit.fit());
    ro.observe(box.current);

    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}/portal/api/console/${encodeURIComponent(rg)}/${encodeURIComponent(vm)}`;
    const ws = new WebSocket(url, ['kumo.console', `csrf.${getCsrf()}`]);
    ws.binaryType = 'arraybuffer';
    const enc = new TextEncoder();
    let opened = false;
    ws.onopen = () => {
      opened = true;
      setStatus({ state: 'open', text: 'Connected: what you type goes to the VM (Ctrl-C too).' });
      term.focus();
    };
    ws.onmessage = (e) => term.write(new Uint8Array(e.data));
    ws.onclose = (e) => {
      const why = e.reason || (opened ? 'the connection closed' : 'kumod refused the console (is the VM running? are you still signed in?)');
      setStatus({ state: 'closed', text: `Disconnected: ${why}.` });
      term.write(`\r\n\x1b[33m[kumo] disconnected: ${why}\x1b[0m\r\n`);
    };
    const sub = term.onData((d) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
    });
    return () => {
      sub.dispose();
      ws.onclose = null;
      ws.close(1000, 'the page was left');
      ro.disconnect();
      term.dispose();
    };
  }, [rg, vm, attempt]);

  return (
    <div class="console">
      <div class={`console-status ${status.state}`} role="status">
        {status.text}
        {status.state === 'closed' && (
          <button type="button" onClick={() => setAttempt((a) => a + 1)}>
            Reconnect
          </button>
        )}
      </div>
      <div ref={box} class="console-term" aria-label={`Serial console of ${vm}`} />
      <p class="muted small">
        kumo-vmm serves one console client at a time: while this page holds it, <code>kumo vm console</code> waits (and the
        other way round). The terminal takes every key, Tab
        included: the page's navigation stays reachable from the skip link at its top.
      </p>
    </div>
  );
}
