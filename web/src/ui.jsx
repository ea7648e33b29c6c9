// ui.jsx - what the pages share: polling, page frame, tables, form fields
// that show kumod's error at the field, state badges, formatting.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

// Load fn() now and every `ms` (while the tab is visible); reload() at will.
export function usePoll(fn, ms, deps = []) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const gen = useRef(0);
  const reload = useCallback(async () => {
    const my = ++gen.current;
    try {
      const data = await fnRef.current();
      if (my === gen.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (my === gen.current) setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, []);
  useEffect(() => {
    setState({ data: undefined, error: null, loading: true });
    reload();
    if (!ms) return undefined;
    const t = setInterval(() => {
      if (!document.hidden) reload();
    }, ms);
    return () => {
      clearInterval(t);
      gen.current++;
    };
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps
  return { ...state, reload };
}

let firstPage = true; // a fresh load starts at the top (Tab: the skip link)

export function Page({ title, subtitle, actions, children }) {
  const h = useRef(null);
  useEffect(() => {
    document.title = `${title} - kumo`;
  }, [title]);
  useEffect(() => {
    if (firstPage) firstPage = false;
    else h.current?.focus({ preventScroll: true }); // after a link: a screen reader hears the new page
  }, []);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <div>
          <h1 id="page-title" tabIndex={-1} ref={h}>
            {title}
          </h1>
          {subtitle && <p class="subtitle">{subtitle}</p>}
        </div>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Card({ title, children, actions, id }) {
  return (
    <section class="card" aria-label={title} id={id}>
      {(title || actions) && (
        <header class="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div class="actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

export function ErrorBox({ error, children }) {
  if (!error && !children) return null;
  return (
    <div class="error-box" role="alert">
      {error ? error.message || String(error) : children}
    </div>
  );
}

export function Loading({ what }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

// columns: [{key, label, render(row), class}]
export function Table({ columns, rows, empty, caption, rowKey }) {
  if (!rows) return null;
  if (!rows.length) return <p class="muted empty">{empty || 'Nothing here yet.'}</p>;
  return (
    <div class="table-wrap">
      <table>
        {caption && <caption class="sr-only">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" class={c.class}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={rowKey ? rowKey(r) : r.id || i} class={r._class}>
              {columns.map((c) => (
                <td class={c.class} data-label={c.label}>
                  {c.render ? c.render(r) : r[c.key]}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const STATE_CLASS = {
  Running: 'ok',
  Succeeded: 'ok',
  Healthy: 'ok',
  Stopped: 'off',
  Deallocated: 'off',
  Failed: 'bad',
  Unhealthy: 'bad',
  Creating: 'busy',
  Starting: 'busy',
  Stopping: 'busy',
  Deallocating: 'busy',
  Updating: 'busy',
  Deleting: 'busy',
  Pending: 'busy',
};

export function Badge({ state, label }) {
  const cls = STATE_CLASS[state] || 'off';
  return (
    <span class={`badge ${cls}`} data-state={state}>
      {cls === 'busy' && <span class="spinner" aria-hidden="true" />}
      {label || state}
    </span>
  );
}

let fieldSeq = 0;
// A labelled form control with its hint and its error (kumod's message
// for this field), tied together for screen readers.
export function Field({ label, error, hint, children, wide }) {
  const [id] = useState(() => `f${++fieldSeq}`);
  const described = [hint && `${id}-hint`, error && `${id}-err`].filter(Boolean).join(' ');
  const control = children({ id, 'aria-describedby': described || undefined, 'aria-invalid': error ? 'true' : undefined });
  return (
    <div class={`field${error ? ' has-error' : ''}${wide ? ' wide' : ''}`}>
      <label for={id}>{label}</label>
      {control}
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${id}-err`} class="field-error" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

// Field errors from an ApiError: {field: message}; `map` renames targets.
export function fieldErrors(err, map = {}) {
  if (!err || !err.target) return {};
  const t = err.target;
  for (const [prefix, field] of Object.entries(map)) if (t === prefix || t.startsWith(prefix + '.')) return { [field]: err.message };
  return { [t]: err.message };
}

// A button that asks once more before it acts ("Delete" -> "Really delete?").
export function ConfirmButton({ label, confirm, onConfirm, disabled, class: cls }) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return undefined;
    const t = setTimeout(() => setArmed(false), 5000);
    return () => clearTimeout(t);
  }, [armed]);
  return (
    <button
      type="button"
      class={`${cls || ''} ${armed ? 'danger armed' : 'danger'}`}
      disabled={disabled}
      onClick={() => {
        if (armed) {
          setArmed(false);
          onConfirm();
        } else setArmed(true);
      }}
    >
      {armed ? confirm || `Really ${label.toLowerCase()}?` : label}
    </button>
  );
}

export function KeyValues({ items }) {
  return (
    <dl class="kv">
      {items
        .filter((x) => x)
        .map(([k, v]) => (
          <div>
            <dt>{k}</dt>
            <dd>{v === null || v === undefined || v === '' ? <span class="muted">-</span> : v}</dd>
          </div>
        ))}
    </dl>
  );
}

export const fmt = {
  time(s) {
    if (!s) return '-';
    const d = new Date(s);
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  },
  ago(s) {
    if (!s) return '-';
    const sec = Math.round((Date.now() - new Date(s).getTime()) / 1000);
    if (sec < 60) return `${Math.max(sec, 0)} s ago`;
    if (sec < 3600) return `${Math.round(sec / 60)} min ago`;
    if (sec < 86400) return `${Math.round(sec / 3600)} h ago`;
    return `${Math.round(sec / 86400)} days ago`;
  },
  money(x) {
    if (x === undefined || x === null) return '-';
    return x < 0.01 && x > 0 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`;
  },
  mib(m) {
    if (m === undefined || m === null) return '-';
    return m >= 1024 ? `${(m / 1024).toFixed(m % 1024 ? 1 : 0)} GiB` : `${m} MiB`;
  },
  bytes(b) {
    if (b === undefined || b === null) return '-';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) {
      b /= 1024;
      i++;
    }
    return `${b.toFixed(i && b < 10 ? 1 : 0)} ${u[i]}`;
  },
  ports(ports, address) {
    if (!ports || !ports.length) return '-';
    return ports.map((x) => `${address || ''}:${x.hostPort} → ${x.port}/${x.protocol.toLowerCase()}`).join(', ');
  },
};

// Resource groups, for the forms' selects.
export function GroupSelect({ groups, value, onChange, allowNew, ...rest }) {
  return (
    <select value={value} onChange={(e) => onChange(e.currentTarget.value)} {...rest}>
      {allowNew && <option value="">New resource group…</option>}
      {(groups || []).map((g) => (
        <option value={g.name}>{g.name}</option>
      ))}
    </select>
  );
}
