// router.jsx - the portal's URLs: every page is a path under /portal/, so a
// link can be bookmarked, opened in a new tab, and a reload keeps the page
// (kumod answers every /portal/ path with index.html).
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/portal';
const listeners = new Set();

function current() {
  let p = location.pathname;
  if (p.startsWith(BASE)) p = p.slice(BASE.length);
  return p.replace(/\/+$/, '') || '/';
}

export function navigate(to, { replace = false } = {}) {
  history[replace ? 'replaceState' : 'pushState'](null, '', BASE + to);
  listeners.forEach((f) => f());
}

export function useRoute() {
  const [path, setPath] = useState(current());
  useEffect(() => {
    const f = () => setPath(current());
    listeners.add(f);
    addEventListener('popstate', f);
    return () => {
      listeners.delete(f);
      removeEventListener('popstate', f);
    };
  }, []);
  return path;
}

// '/vms/:rg/:name' against '/vms/web/vm1' -> {rg: 'web', name: 'vm1'}, or null.
export function match(pattern, path) {
  const ps = pattern.split('/').filter(Boolean);
  const xs = path.split('/').filter(Boolean);
  if (ps.length !== xs.length) return null;
  const out = {};
  for (let i = 0; i < ps.length; i++) {
    if (ps[i].startsWith(':')) out[ps[i].slice(1)] = decodeURIComponent(xs[i]);
    else if (ps[i] !== xs[i]) return null;
  }
  return out;
}

export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={BASE + href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

export const route = (...parts) => '/' + parts.map((x) => encodeURIComponent(x)).join('/');
