// vm.jsx - one virtual machine: its properties, IPs and ports, the
// operation in progress, live charts of its metrics, its boot log and its
// serial console, each tab at its own URL.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, get, vmPath } from '../api.js';
import { Link, navigate, route } from '../router.jsx';
import { Badge, Card, ErrorBox, Field, KeyValues, Loading, Page, Table, fmt, usePoll } from '../ui.jsx';
import { TimeChart } from '../charts.jsx';
import { Console } from '../console.jsx';
import { VmActions, busy } from './vms.jsx';
import { fingerprint, parseKey, sshEndpoint } from '../sshkeys.js';

const TABS = [
  ['', 'Overview'],
  ['monitoring', 'Monitoring'],
  ['console', 'Console'],
  ['boot-log', 'Boot log'],
];

export function VmPage({ rg, name, tab = '' }) {
  const vm = usePoll(() => get(vmPath(rg, name)), 2000, [rg, name]);
  const hist = usePoll(() => get(`${vmPath(rg, name)}/history`), 3000, [rg, name]);
  const [actionErr, setActionErr] = useState(null);
  const v = vm.data;
  if (vm.error && vm.error.status === 404)
    return (
      <Page title={name}>
        <ErrorBox error={vm.error} />
        <p>
          <Link href="/vms">Back to the virtual machines</Link>
        </p>
      </Page>
    );
  if (!v) return <Page title={name}>{vm.error ? <ErrorBox error={vm.error} /> : <Loading what="the VM" />}</Page>;
  const events = hist.data?.value || [];
  return (
    <Page
      title={v.name}
      subtitle={
        <>
          Virtual machine in resource group <strong>{v.resourceGroup}</strong> · <Badge state={v.powerState} />{' '}
          {v.provisioningState !== 'Succeeded' && <Badge state={v.provisioningState} />}
        </>
      }
      actions={
        <VmActions
          vm={v}
          onDone={(a) => {
            setActionErr(null);
            if (a === 'delete') navigate('/vms');
            else vm.reload();
          }}
          onError={setActionErr}
        />
      }
    >
      <ErrorBox error={actionErr} />
      <Progress vm={v} events={events} />
      {v.error && v.provisioningState === 'Failed' && (
        <div class="error-box" role="alert">
          The last operation failed: {v.error.message}
        </div>
      )}
      <nav class="tabs" aria-label="VM views">
        {TABS.map(([t, label]) => (
          <Link href={route('vms', rg, name) + (t ? '/' + t : '')} aria-current={tab === t ? 'page' : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      {tab === '' && <VmOverview vm={v} events={events} onError={setActionErr} reload={vm.reload} />}
      {tab === 'monitoring' && <Monitoring rg={rg} name={name} />}
      {tab === 'console' &&
        (['Running', 'Starting', 'Stopping'].includes(v.powerState) ? (
          <Console rg={v.resourceGroup} vm={v.name} />
        ) : (
          <p class="notice">The VM is {v.powerState}: its console exists while it runs. Start it to use the console.</p>
        ))}
      {tab === 'boot-log' && <BootLog rg={rg} name={name} running={v.powerState === 'Running'} />}
      {!TABS.some(([t]) => t === tab) && <ErrorBox>No such view: {tab}.</ErrorBox>}
    </Page>
  );
}

// The operation running on the VM: its state and kumod's latest word on it.
function Progress({ vm, events }) {
  if (!busy(vm)) return null;
  const start = vm.updatedAt;
  const last = events[events.length - 1];
  return (
    <div class="progress-box" role="status" aria-live="polite">
      <progress aria-label="operation in progress" />
      <div>
        <strong>
          {vm.provisioningState}: {vm.powerState}
        </strong>{' '}
        <span class="muted">(since {fmt.ago(start)})</span>
        {last && <div class="small">{last.message}</div>}
      </div>
    </div>
  );
}

function VmOverview({ vm, events, onError, reload }) {
  const [sizes, setSizes] = useState(null);
  const [resize, setResize] = useState({ size: '', restart: false, error: null, busy: false });
  useEffect(() => {
    get('/v1/sizes').then((r) => setSizes(r.value), onError);
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  const doResize = async (e) => {
    e.preventDefault();
    setResize({ ...resize, busy: true, error: null });
    try {
      await api('POST', `${vmPath(vm.resourceGroup, vm.name)}/resize`, { size: resize.size, restart: resize.restart });
      setResize({ size: '', restart: false, error: null, busy: false });
      reload();
    } catch (err) {
      setResize({ ...resize, busy: false, error: err.message });
    }
  };
  const iv = vm.instanceView || {};
  return (
    <div class="grid two">
      <Connect vm={vm} />
      <AdminAccount vm={vm} />
      <Card title="Properties">
        <KeyValues
          items={[
            ['Size', `${vm.size} (${vm.vcpus} vCPU, ${fmt.mib(vm.memoryMiB)})`],
            ['Image', vm.image],
            ['Host', vm.host],
            ['Location', vm.location],
            ['OS disk', vm.osDisk && `${vm.osDisk.name}: ${vm.osDisk.sizeGiB} GiB ${vm.osDisk.tier}`],
            ['Data disks', (vm.dataDisks || []).map((d) => `LUN ${d.lun}: ${d.name} (${d.sizeGiB} GiB ${d.tier})`).join(', ')],
            ['Dedicated cores', vm.dedicated ? vm.hostCpus || 'yes' : 'no'],
            vm.cpuCredits && ['CPU credits', `${vm.cpuCredits.credits.toFixed(1)} of ${vm.cpuCredits.maxCredits}${vm.cpuCredits.heldToBaseline ? ' (held to baseline)' : ''}`],
            vm.scaleSet && ['Scale set', <Link href={route('scale-sets', vm.resourceGroup, vm.scaleSet.name)}>{vm.scaleSet.name}</Link>],
            ['User data', vm.hasUserData ? 'yes' : 'no'],
            ['kumo-vmm', iv.pid ? `pid ${iv.pid}, started ${fmt.ago(iv.startedAt)}` : 'not running'],
            iv.lastExit && ['Last exit', `${iv.lastExit.reason} (${fmt.time(iv.lastExit.at)})`],
            ['Created', fmt.time(vm.createdAt)],
            ['Tags', Object.entries(vm.tags || {}).map(([k, x]) => `${k}=${x}`).join(', ')],
          ]}
        />
        <form class="inline-form" onSubmit={doResize} aria-label="Resize">
          <Field label="Resize to" error={resize.error}>
            {(a) => (
              <select {...a} value={resize.size} onChange={(e) => setResize({ ...resize, size: e.currentTarget.value })}>
                <option value="">Choose a size…</option>
                {(sizes || []).map((s) => (
                  <option value={s.name} disabled={s.name === vm.size}>
                    {s.name}: {s.vcpus} vCPU, {fmt.mib(s.memoryMiB)}, {fmt.money(s.pricePerHour)}/h
                  </option>
                ))}
              </select>
            )}
          </Field>
          <label class="check">
            <input type="checkbox" checked={resize.restart} onChange={(e) => setResize({ ...resize, restart: e.currentTarget.checked })} /> restart if running
          </label>
          <button type="submit" disabled={!resize.size || resize.busy || busy(vm)}>
            Resize
          </button>
        </form>
      </Card>
      <Card title="Networking">
        {(vm.networkInterfaces || []).map((n) => (
          <KeyValues
            items={[
              ['Interface', n.name],
              ['Network', `${n.vnet} / ${n.subnet}`],
              ['Private IP', n.privateIp],
              ['MAC', n.macAddress],
              ['Public IP', n.publicIp ? `${n.publicIp.name} (${n.publicIp.ipAddress})` : 'none'],
              n.publicIp && ['Ports', <PortList pip={n.publicIp} />],
            ]}
          />
        ))}
        {!(vm.networkInterfaces || []).length && <p class="muted">No network interfaces.</p>}
      </Card>
      <Card title="History">
        <Table
          rows={events.slice(-15).reverse()}
          columns={[
            { label: 'When', render: (e) => <time datetime={e.at} title={fmt.time(e.at)}>{fmt.ago(e.at)}</time> },
            { label: 'Power state', render: (e) => e.powerState },
            { label: 'Provisioning', render: (e) => e.provisioningState },
            { label: 'What happened', key: 'message' },
          ]}
        />
      </Card>
    </div>
  );
}

// How to log in, as Azure's Connect blade says it: the ssh command to the
// host port the VM's public IP forwards to TCP 22, as its admin user, and
// `kumo vm ssh`, which finds the same (and keeps the VM's host key by its id).
function Connect({ vm }) {
  const ep = sshEndpoint(vm);
  const user = vm.osProfile?.adminUsername;
  const running = ['Running', 'Starting'].includes(vm.powerState);
  const sshLine = ep && user ? `ssh -p ${ep.port} ${user}@${ep.address}` : null;
  const kumoLine = `kumo vm ssh -g ${vm.resourceGroup} -n ${vm.name}`;
  let why = null;
  if (!user) why = "The VM has no administrator account (it was made without SSH keys or a password): use its console.";
  else if (!ep) why = "The VM has no public IP forwarding TCP 22: give it one (kumo public-ip create, then kumo nic update --public-ip), or use its console.";
  return (
    <Card title="Connect" id="connect">
      {why ? (
        <p class="muted">{why}</p>
      ) : (
        <>
          <p class="small muted">Log in with SSH as {user}, through port {ep.port} of the host's public address (forwarded to TCP 22 of the VM):</p>
          <CopyLine text={sshLine} label="SSH command" />
          <p class="small muted">or with kumo's CLI (it finds the port and user, and keeps this VM's host key apart from the next VM's on the same port):</p>
          <CopyLine text={kumoLine} label="kumo command" />
          {ep.blockedBy && (
            <p class="field-error" role="alert">
              SSH is blocked: {ep.blockedBy}. Allow TCP 22 in the NSG (or kumo vm open-port --port 22).
            </p>
          )}
          {!running && <p class="notice">The VM is {vm.powerState}: start it to log in.</p>}
          {running && vm.provisioningState === 'Creating' && (
            <p class="notice">
              The guest is still being provisioned: its SSH server takes the login once provisioning succeeded.
            </p>
          )}
          {vm.osProfile?.adminPasswordSet ? (
            <p class="small muted">The account has a password: ssh asks for it when no key of yours is accepted.</p>
          ) : (
            <p class="small muted">
              ssh offers your private key (<code>-i ~/.ssh/id_ed25519</code> to name another); the VM accepts the keys listed under Administrator account.
            </p>
          )}
        </>
      )}
    </Card>
  );
}

function CopyLine({ text, label }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div class="connect-line">
      <code aria-label={label} data-copy={label}>
        {text}
      </code>
      {navigator.clipboard && (
        <button type="button" onClick={copy} aria-label={`Copy the ${label}`}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      )}
    </div>
  );
}

const STAGE_WHAT = {
  'init-network': 'host name, admin account, SSH keys and host keys',
  'modules-final': 'the user data',
};

// The OS profile (admin user, keys, password or not) and how the guest's
// provisioning went, stage by stage, as it reported it to kumo.
function AdminAccount({ vm }) {
  const os = vm.osProfile;
  const prov = vm.osProvisioning || {};
  const state = prov.state;
  return (
    <Card title="Administrator account" id="admin-account">
      {os ? (
        <KeyValues
          items={[
            ['Username', <strong data-admin-user>{os.adminUsername}</strong>],
            ['Computer name', os.computerName],
            ['Password', os.adminPasswordSet ? 'set (SSH password logins on)' : 'none (SSH keys only)'],
            ['SSH public keys', <KeyList keys={os.sshPublicKeys || []} />],
          ]}
        />
      ) : (
        <p class="muted">None: the VM was made without an administrator account.</p>
      )}
      <KeyValues
        items={[
          [
            'Provisioning',
            state ? (
              <span data-os-provisioning={state}>
                <Badge state={state} /> <span class="muted small">by {prov.image}</span>
              </span>
            ) : (
              <span class="muted">
                {prov.image === 'none' ? 'none: the image is not provisioned' : `not tracked (${prov.image || 'unknown'}: no report can arrive without kumo-switch)`}
              </span>
            ),
          ],
        ]}
      />
      {state === 'Pending' && <p class="small muted">Waiting for the guest to report that its account and keys are ready.</p>}
      {vm.error && /^OSProvisioning/.test(vm.error.code || '') && (
        <p class="field-error" role="alert">
          {vm.error.code}: {vm.error.message}
        </p>
      )}
      {(prov.stages || []).length > 0 && (
        <Table
          caption="Provisioning stages"
          rows={prov.stages}
          rowKey={(s) => s.name}
          columns={[
            { label: 'Stage', render: (s) => <span title={STAGE_WHAT[s.name] || ''}>{s.name}</span> },
            { label: 'What', render: (s) => STAGE_WHAT[s.name] || '-' },
            { label: 'Result', render: (s) => (s.result ? <Badge state={s.result === 'FAIL' ? 'Failed' : 'Succeeded'} label={s.result} /> : <Badge state="Pending" label={s.event_type === 'start' ? 'started' : s.event_type} />) },
            { label: 'Said', render: (s) => <span class="small">{s.description || '-'}{s.origin && !(s.description || '').includes(s.origin) ? <span class="muted"> ({s.origin})</span> : null}</span> },
          ]}
        />
      )}
    </Card>
  );
}

function KeyList({ keys }) {
  if (!keys.length) return <span class="muted">none</span>;
  return (
    <ul class="plain keys">
      {keys.map((k) => (
        <KeyItem line={k} />
      ))}
    </ul>
  );
}

function KeyItem({ line }) {
  const [fp, setFp] = useState(undefined);
  useEffect(() => {
    let live = true;
    fingerprint(line).then(
      (x) => live && setFp(x),
      () => live && setFp(null),
    );
    return () => {
      live = false;
    };
  }, [line]);
  const { type, data, comment } = parseKey(line);
  return (
    <li data-key>
      <span class="strong">{comment || '(no comment)'}</span> <span class="muted small">{type}</span>
      <br />
      <code class="fp" title={line}>
        {fp || `${data.slice(0, 24)}…`}
      </code>
    </li>
  );
}

function PortList({ pip }) {
  return (
    <ul class="plain">
      {pip.ports.map((p) => (
        <li>
          <code>
            {pip.ipAddress}:{p.hostPort}
          </code>{' '}
          → {p.protocol} {p.port}
        </li>
      ))}
      {(pip.portErrors || []).map((e) => (
        <li class="field-error">{e.message}</li>
      ))}
    </ul>
  );
}

const RANGES = [
  ['15 min', 900],
  ['1 hour', 3600],
  ['6 hours', 21600],
  ['24 hours', 86400],
];

function Monitoring({ rg, name }) {
  const [range, setRange] = useState(3600);
  const [interval, setInt] = useState(10);
  const m = usePoll(
    () => get(`${vmPath(rg, name)}/metrics?from=${Math.floor(Date.now() / 1000) - range}`),
    Math.max(interval, 2) * 1000,
    [rg, name, range, interval],
  );
  useEffect(() => {
    if (m.data?.intervalSeconds && m.data.intervalSeconds !== interval) setInt(m.data.intervalSeconds);
  }, [m.data]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!m.data) return m.error ? <ErrorBox error={m.error} /> : <Loading what="metrics" />;
  const metrics = m.data.metrics || {};
  // one time axis: the CPU samples' times; other metrics matched by time
  const base = metrics.cpuPercent || [];
  const times = base.map((s) => new Date(s.at).getTime() / 1000);
  const col = (key) => {
    const byAt = new Map((metrics[key] || []).map((s) => [s.at, s.value]));
    return base.map((s) => (byAt.has(s.at) ? byAt.get(s.at) : null));
  };
  return (
    <div>
      <div class="toolbar" role="group" aria-label="Time range">
        {RANGES.map(([label, secs]) => (
          <button type="button" aria-pressed={range === secs} onClick={() => setRange(secs)}>
            {label}
          </button>
        ))}
        <span class="muted small">
          kumod samples every {m.data.intervalSeconds} s; this page follows along.
        </span>
      </div>
      <ErrorBox error={m.error} />
      <div class="grid two">
        <Card>
          <TimeChart title="CPU" unit="%" times={times} series={[{ label: 'CPU', color: '#1f6feb', values: col('cpuPercent') }]} />
        </Card>
        <Card>
          <TimeChart title="Memory used by the VM's process" unit="MiB" times={times} series={[{ label: 'Resident', color: '#8250df', values: col('memoryUsedMiB') }]} />
        </Card>
        <Card>
          <TimeChart
            title="Disk"
            unit="B/s"
            times={times}
            series={[
              { label: 'Read', color: '#1a7f37', values: col('diskReadBytes') },
              { label: 'Write', color: '#bf8700', values: col('diskWriteBytes') },
            ]}
          />
        </Card>
        <Card>
          <TimeChart
            title="Network"
            unit="B/s"
            times={times}
            series={[
              { label: 'In', color: '#0969da', values: col('networkInBytes') },
              { label: 'Out', color: '#cf222e', values: col('networkOutBytes') },
            ]}
          />
        </Card>
      </div>
    </div>
  );
}

function BootLog({ rg, name, running }) {
  const [follow, setFollow] = useState(true);
  const log = usePoll(() => api('GET', `${vmPath(rg, name)}/bootDiagnostics?tail=262144`, undefined, { text: true }), follow && running ? 3000 : 0, [rg, name, follow, running]);
  const pre = useRef(null);
  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [log.data, follow]);
  return (
    <Card
      title="Boot log"
      actions={
        <>
          <label class="check">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> follow
          </label>
          <button type="button" onClick={log.reload}>
            Refresh
          </button>
        </>
      }
    >
      <p class="muted small">Everything the VM printed on its serial console (the last 256 KiB), as kumod keeps it.</p>
      <ErrorBox error={log.error} />
      <pre class="bootlog" ref={pre} tabIndex={0} aria-label="Boot log">
        {log.data === undefined ? 'Loading…' : stripAnsi(log.data) || '(nothing yet)'}
      </pre>
    </Card>
  );
}

function stripAnsi(s) {
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, ''); // eslint-disable-line no-control-regex
}

