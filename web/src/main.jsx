// main.jsx - the portal's shell: sign-in, the navigation, and which page a
// path shows (docs/portal.md lists them).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { onSignedOut, session } from './api.js';
import { Link, match, navigate, useRoute } from './router.jsx';
import { ErrorBox, Field } from './ui.jsx';
import { Overview } from './pages/overview.jsx';
import { VmCreate, VmList } from './pages/vms.jsx';
import { VmPage } from './pages/vm.jsx';
import { Disks } from './pages/storage.jsx';
import { Networks, NsgList, NsgPage, PublicIps } from './pages/network.jsx';
import { ScaleSetList, ScaleSetPage } from './pages/scalesets.jsx';
import { Cost } from './pages/cost.jsx';

const NAV = [
  ['/', 'Overview'],
  ['/vms', 'Virtual machines'],
  ['/disks', 'Disks and snapshots'],
  ['/networks', 'Virtual networks'],
  ['/nsgs', 'Network security groups'],
  ['/public-ips', 'Public IP addresses'],
  ['/scale-sets', 'Scale sets'],
  ['/cost', 'Cost'],
];

const ROUTES = [
  ['/', Overview],
  ['/vms', VmList],
  ['/vms/new', VmCreate],
  ['/vms/:rg/:name', VmPage],
  ['/vms/:rg/:name/:tab', VmPage],
  ['/disks', Disks],
  ['/networks', Networks],
  ['/nsgs', NsgList],
  ['/nsgs/:rg/:name', NsgPage],
  ['/public-ips', PublicIps],
  ['/scale-sets', ScaleSetList],
  ['/scale-sets/:rg/:name', ScaleSetPage],
  ['/cost', Cost],
];

function SignIn({ onDone, expired }) {
  const [how, setHow] = useState('token');
  const [token, setToken] = useState('');
  const [appId, setAppId] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Sign in - kumo';
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onDone(await session.signIn(how === 'token' ? { token: token.trim() } : { appId: appId.trim(), secret }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} class="card signin-card" aria-labelledby="signin-title">
        <h1 id="signin-title">
          <img src="/portal/favicon.svg" alt="" width="28" height="28" /> Sign in to kumo
        </h1>
        {expired && <p class="notice">{expired}</p>}
        <fieldset class="choice">
          <legend>Sign in with</legend>
          <label class="check">
            <input type="radio" name="how" value="token" checked={how === 'token'} onChange={() => setHow('token')} /> the API
            token (the operator)
          </label>
          <label class="check">
            <input type="radio" name="how" value="sp" checked={how === 'sp'} onChange={() => setHow('sp')} /> a service
            principal
          </label>
        </fieldset>
        {how === 'sp' && (
          <>
            <Field label="Application (client) ID" hint={<>From <code>kumo sp create</code> or <code>kumo sp list</code>.</>}>
              {(a) => <input {...a} name="appId" autocomplete="off" spellcheck={false} required value={appId} onInput={(e) => setAppId(e.currentTarget.value)} />}
            </Field>
            <Field label="Secret" error={error && error.target === 'secret' ? error.message : null} hint="Shown once, when the service principal was made.">
              {(a) => <input {...a} name="secret" type="password" autocomplete="off" required value={secret} onInput={(e) => setSecret(e.currentTarget.value)} />}
            </Field>
          </>
        )}
        {how === 'token' && (
        <Field
          label="API token"
          error={error && (error.target === 'token' || (error.status === 401 && error.target !== 'secret')) ? error.message : null}
          hint={
            <>
              kumod's token: the 64 hex digits in <code>token</code> of its data directory (
              <code>cat ~/.local/state/kumo/token</code>, or <code>/var/lib/kumo/token</code> for root).
            </>
          }
        >
          {(a) => (
            <input
              {...a}
              name="token"
              type="password"
              autocomplete="off"
              spellcheck={false}
              required
              autoFocus
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
            />
          )}
        </Field>
        )}
        {error && !['token', 'secret'].includes(error.target) && error.status !== 401 && <ErrorBox error={error} />}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="muted small">
          The token is sent once: kumod then keeps a session, in a cookie this page cannot read, that ends after 8
          hours unused or 24 hours in all, when you sign out, or when kumod restarts.
        </p>
      </form>
    </main>
  );
}

function Shell({ onSignOut, who }) {
  const path = useRoute();
  let page = null;
  for (const [pattern, C] of ROUTES) {
    const m = match(pattern, path);
    if (m) {
      page = <C {...m} key={path.split('/').slice(0, 4).join('/')} />;
      break;
    }
  }
  const active = (href) => (href === '/' ? path === '/' : path === href || path.startsWith(href + '/'));
  return (
    <div class="shell">
      <a href="#main" class="skip">
        Skip to the page
      </a>
      <header class="topbar">
        <Link href="/" class="brand">
          <img src="/portal/favicon.svg" alt="" width="24" height="24" /> kumo
        </Link>
        <span class="topbar-note">cloud in a box</span>
        <span class="topbar-who" title="who this session is">
          {who?.type === 'servicePrincipal' ? `service principal ${who.appId}` : 'operator (API token)'}
        </span>
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav class="sidebar" aria-label="Resources">
        <ul>
          {NAV.map(([href, label]) => (
            <li>
              <Link href={href} aria-current={active(href) ? 'page' : undefined}>
                {label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" class="content">
        {page || (
          <section class="page">
            <h1>No such page</h1>
            <p>
              {location.pathname} is not a page of the portal. <Link href="/">Go to the overview</Link>.
            </p>
          </section>
        )}
      </main>
    </div>
  );
}

function App() {
  const [state, setState] = useState({ phase: 'loading' });
  useEffect(() => {
    onSignedOut((e) => setState({ phase: 'signin', expired: e.message }));
    session
      .get()
      .then((s) => setState({ phase: 'in', who: s.principal }))
      .catch((e) => setState({ phase: e.status === 401 ? 'signin' : 'error', error: e }));
  }, []);
  if (state.phase === 'loading') return <p class="muted center">Loading…</p>;
  if (state.phase === 'error')
    return (
      <main class="signin">
        <ErrorBox error={state.error} />
      </main>
    );
  if (state.phase === 'signin') return <SignIn expired={state.expired} onDone={(s) => setState({ phase: 'in', who: s.principal })} />;
  return (
    <Shell
      who={state.who}
      onSignOut={async () => {
        try {
          await session.signOut();
        } catch {
          /* gone already */
        }
        setState({ phase: 'signin' });
        navigate('/', { replace: false });
      }}
    />
  );
}

render(<App />, document.getElementById('app'));
