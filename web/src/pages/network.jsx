// network.jsx - virtual networks and subnets, network security groups with
// their rule editor (kumod's validation errors shown at the field), and
// public IP addresses.
import { useState } from 'preact/hooks';
import { del, enc, get, listAll, post, put, rgPath } from '../api.js';
import { Link, route } from '../router.jsx';
import { Badge, Card, ConfirmButton, ErrorBox, Field, Loading, Page, Table, fmt, usePoll } from '../ui.jsx';

function useGroups() {
  return usePoll(() => get('/v1/resourceGroups').then((r) => r.value), 0);
}

function GroupField({ groups, value, onChange }) {
  return (
    <Field label="Resource group">
      {(a) => (
        <select {...a} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
          {(groups || []).map((g) => (
            <option>{g.name}</option>
          ))}
        </select>
      )}
    </Field>
  );
}

// ---- virtual networks ----

function CreateVnet({ groups, onDone }) {
  const [f, setF] = useState({ group: '', name: '', space: '10.1.0.0/16', subnet: 'default', prefix: '10.1.0.0/24' });
  const [err, setErr] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const group = f.group || groups?.[0]?.name || '';
  const at = (t) => (err && err.target === t ? err.message : null);
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    try {
      await post(`${rgPath(group)}/virtualNetworks`, {
        name: f.name.trim(),
        addressSpaces: [f.space.trim()],
        subnets: f.subnet ? [{ name: f.subnet.trim(), addressPrefix: f.prefix.trim() }] : [],
      });
      setF({ ...f, name: '' });
      onDone();
    } catch (x) {
      setErr(x);
    }
  };
  const known = ['name', 'addressSpaces[0]', 'subnets[0].name', 'subnets[0].addressPrefix'];
  return (
    <form class="inline-form" onSubmit={submit} aria-label="Create a virtual network">
      <GroupField groups={groups} value={group} onChange={(g) => setF({ ...f, group: g })} />
      <Field label="Name" error={at('name')}>
        {(a) => <input {...a} value={f.name} onInput={set('name')} required />}
      </Field>
      <Field label="Address space" error={at('addressSpaces[0]') || at('addressSpaces')}>
        {(a) => <input {...a} value={f.space} onInput={set('space')} />}
      </Field>
      <Field label="First subnet" error={at('subnets[0].name')}>
        {(a) => <input {...a} value={f.subnet} onInput={set('subnet')} />}
      </Field>
      <Field label="Its prefix" error={at('subnets[0].addressPrefix')}>
        {(a) => <input {...a} value={f.prefix} onInput={set('prefix')} />}
      </Field>
      <button type="submit" class="primary" disabled={!group}>
        Create network
      </button>
      {err && !known.includes(err.target) && err.target !== 'addressSpaces' && <ErrorBox error={err} />}
    </form>
  );
}

function AddSubnet({ vnet, onDone }) {
  const [f, setF] = useState({ name: '', prefix: '' });
  const [err, setErr] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    try {
      await post(`${rgPath(vnet.resourceGroup)}/virtualNetworks/${enc(vnet.name)}/subnets`, { name: f.name.trim(), addressPrefix: f.prefix.trim() });
      setF({ name: '', prefix: '' });
      onDone();
    } catch (x) {
      setErr(x);
    }
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label={`Add a subnet to ${vnet.name}`}>
      <Field label="Subnet name" error={err?.target === 'name' ? err.message : null}>
        {(a) => <input {...a} value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} required />}
      </Field>
      <Field label="Address prefix" error={err?.target === 'addressPrefix' ? err.message : null}>
        {(a) => <input {...a} value={f.prefix} placeholder="10.0.1.0/24" onInput={(e) => setF({ ...f, prefix: e.currentTarget.value })} required />}
      </Field>
      <button type="submit">Add subnet</button>
      {err && !['name', 'addressPrefix'].includes(err.target) && <ErrorBox error={err} />}
    </form>
  );
}

export function Networks() {
  const groups = useGroups();
  const vnets = usePoll(() => listAll('virtualNetworks'), 5000);
  const [error, setError] = useState(null);
  const remove = async (path) => {
    setError(null);
    try {
      await del(path);
      vnets.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Page title="Virtual networks" subtitle="Each VNet is isolated; subnets give NICs their private addresses.">
      <ErrorBox error={error || vnets.error} />
      <Card title="Create a virtual network">{groups.data && <CreateVnet groups={groups.data} onDone={vnets.reload} />}</Card>
      {!vnets.data && !vnets.error && <Loading what="networks" />}
      {vnets.data && vnets.data.length === 0 && <p class="muted">No virtual networks yet.</p>}
      {(vnets.data || []).map((v) => (
        <Card
          title={`${v.name} (${v.resourceGroup})`}
          actions={<ConfirmButton label="Delete" onConfirm={() => remove(`${rgPath(v.resourceGroup)}/virtualNetworks/${enc(v.name)}`)} />}
        >
          <p>
            Address spaces: <code>{v.addressSpaces.join(', ')}</code>
          </p>
          <Table
            rows={v.subnets}
            empty="No subnets."
            columns={[
              { label: 'Subnet', key: 'name' },
              { label: 'Prefix', render: (s) => <code>{s.addressPrefix}</code> },
              { label: 'Gateway', key: 'gateway' },
              { label: 'Free addresses', key: 'availableAddresses' },
              { label: 'NSG', render: (s) => (s.nsg ? <Link href={route('nsgs', v.resourceGroup, s.nsg)}>{s.nsg}</Link> : '-') },
              {
                label: 'Actions',
                render: (s) => <ConfirmButton label="Delete" onConfirm={() => remove(`${rgPath(v.resourceGroup)}/virtualNetworks/${enc(v.name)}/subnets/${enc(s.name)}`)} />,
              },
            ]}
          />
          <AddSubnet vnet={v} onDone={vnets.reload} />
        </Card>
      ))}
    </Page>
  );
}

// ---- network security groups ----

export function NsgList() {
  const groups = useGroups();
  const nsgs = usePoll(() => listAll('networkSecurityGroups'), 5000);
  const [f, setF] = useState({ group: '', name: '' });
  const [err, setErr] = useState(null);
  const group = f.group || groups.data?.[0]?.name || '';
  const create = async (e) => {
    e.preventDefault();
    setErr(null);
    try {
      await post(`${rgPath(group)}/networkSecurityGroups`, { name: f.name.trim() });
      setF({ ...f, name: '' });
      nsgs.reload();
    } catch (x) {
      setErr(x);
    }
  };
  return (
    <Page title="Network security groups" subtitle="Stateful allow/deny rules for subnets and network interfaces.">
      <ErrorBox error={nsgs.error} />
      <Card title="Create a network security group">
        <form class="inline-form" onSubmit={create}>
          <GroupField groups={groups.data} value={group} onChange={(g) => setF({ ...f, group: g })} />
          <Field label="Name" error={err?.target === 'name' ? err.message : null}>
            {(a) => <input {...a} value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} required />}
          </Field>
          <button type="submit" class="primary" disabled={!group}>
            Create
          </button>
          {err && err.target !== 'name' && <ErrorBox error={err} />}
        </form>
      </Card>
      <Card>
        <Table
          rows={nsgs.data}
          empty="No network security groups yet."
          columns={[
            { label: 'Name', render: (n) => <Link href={route('nsgs', n.resourceGroup, n.name)}>{n.name}</Link> },
            { label: 'Group', key: 'resourceGroup' },
            { label: 'Rules', render: (n) => n.rules.length },
            { label: 'Subnets', render: (n) => n.subnets.join(', ') || '-' },
            { label: 'Interfaces', render: (n) => n.networkInterfaces.join(', ') || '-' },
          ]}
        />
      </Card>
    </Page>
  );
}

const EMPTY_RULE = {
  name: '',
  priority: '',
  direction: 'Inbound',
  access: 'Allow',
  protocol: 'Tcp',
  sourceAddressPrefix: '*',
  sourcePortRange: '*',
  destinationAddressPrefix: '*',
  destinationPortRange: '',
  description: '',
};

function RuleEditor({ nsg, editing, onDone, onCancel }) {
  const [r, setR] = useState(() =>
    editing
      ? {
          ...EMPTY_RULE,
          ...editing,
          priority: String(editing.priority),
          sourceAddressPrefix: editing.sourceAddressPrefix || (editing.sourceAddressPrefixes || []).join(','),
          destinationAddressPrefix: editing.destinationAddressPrefix || (editing.destinationAddressPrefixes || []).join(','),
        }
      : EMPTY_RULE,
  );
  const [err, setErr] = useState(null);
  const [saving, setSaving] = useState(false);
  const set = (k) => (e) => setR({ ...r, [k]: e.currentTarget.value });
  const at = (...ts) => (err && ts.includes(err.target) ? err.message : null);
  const prefixes = (text, one, many) => {
    const parts = text
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    return parts.length > 1 ? { [many]: parts } : { [one]: parts[0] || '*' };
  };
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    setSaving(true);
    const prio = /^\d+$/.test(r.priority.trim()) ? Number(r.priority.trim()) : r.priority.trim();
    const body = {
      name: r.name.trim(),
      priority: prio === '' ? undefined : prio,
      direction: r.direction,
      access: r.access,
      protocol: r.protocol,
      ...prefixes(r.sourceAddressPrefix, 'sourceAddressPrefix', 'sourceAddressPrefixes'),
      sourcePortRange: r.sourcePortRange.trim() || '*',
      ...prefixes(r.destinationAddressPrefix, 'destinationAddressPrefix', 'destinationAddressPrefixes'),
      destinationPortRange: r.destinationPortRange.trim() || '*',
      description: r.description,
    };
    const base = `${rgPath(nsg.resourceGroup)}/networkSecurityGroups/${enc(nsg.name)}/rules`;
    try {
      if (editing) await put(`${base}/${enc(editing.name)}`, body);
      else await post(base, body);
      onDone();
    } catch (x) {
      setErr(x);
    } finally {
      setSaving(false);
    }
  };
  const fields = ['name', 'priority', 'direction', 'access', 'protocol', 'sourceAddressPrefix', 'sourceAddressPrefixes', 'sourcePortRange', 'destinationAddressPrefix', 'destinationAddressPrefixes', 'destinationPortRange', 'description'];
  const sel = (k, opts) => (a) => (
    <select {...a} name={k} value={r[k]} onChange={set(k)}>
      {opts.map((o) => (
        <option value={o}>{o === '*' ? 'Any' : o}</option>
      ))}
    </select>
  );
  return (
    <form class="card form rule-form" onSubmit={submit} noValidate aria-label={editing ? `Edit rule ${editing.name}` : 'Add a rule'}>
      <h2>{editing ? `Edit rule ${editing.name}` : 'Add a rule'}</h2>
      <div class="form-grid">
        <Field label="Name" error={at('name')}>
          {(a) => <input {...a} name="name" value={r.name} onInput={set('name')} disabled={!!editing} required />}
        </Field>
        <Field label="Priority" error={at('priority')} hint="100 to 4096; lower wins">
          {(a) => <input {...a} name="priority" inputMode="numeric" value={r.priority} onInput={set('priority')} required />}
        </Field>
        <Field label="Direction" error={at('direction')}>
          {sel('direction', ['Inbound', 'Outbound'])}
        </Field>
        <Field label="Access" error={at('access')}>
          {sel('access', ['Allow', 'Deny'])}
        </Field>
        <Field label="Protocol" error={at('protocol')}>
          {sel('protocol', ['Tcp', 'Udp', 'Icmp', '*'])}
        </Field>
        <Field label="Source" error={at('sourceAddressPrefix', 'sourceAddressPrefixes')} hint="CIDR, address, *, Internet, VirtualNetwork; commas for several">
          {(a) => <input {...a} name="sourceAddressPrefix" value={r.sourceAddressPrefix} onInput={set('sourceAddressPrefix')} />}
        </Field>
        <Field label="Source ports" error={at('sourcePortRange')}>
          {(a) => <input {...a} name="sourcePortRange" value={r.sourcePortRange} onInput={set('sourcePortRange')} />}
        </Field>
        <Field label="Destination" error={at('destinationAddressPrefix', 'destinationAddressPrefixes')}>
          {(a) => <input {...a} name="destinationAddressPrefix" value={r.destinationAddressPrefix} onInput={set('destinationAddressPrefix')} />}
        </Field>
        <Field label="Destination ports" error={at('destinationPortRange')} hint="*, 80, 8000-8080, or 80,443">
          {(a) => <input {...a} name="destinationPortRange" value={r.destinationPortRange} onInput={set('destinationPortRange')} />}
        </Field>
        <Field label="Description" error={at('description')} wide>
          {(a) => <input {...a} name="description" value={r.description} onInput={set('description')} />}
        </Field>
      </div>
      {err && !fields.includes(err.target) && <ErrorBox error={err} />}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={saving}>
          {saving ? 'Saving…' : editing ? 'Save rule' : 'Add rule'}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

const ruleColumns = (extra) => [
  { label: 'Priority', key: 'priority' },
  { label: 'Name', key: 'name' },
  { label: 'Direction', key: 'direction' },
  { label: 'Access', render: (x) => <span class={x.access === 'Allow' ? 'allow' : 'deny'}>{x.access}</span> },
  { label: 'Protocol', render: (x) => (x.protocol === '*' ? 'Any' : x.protocol) },
  { label: 'Source', render: (x) => x.sourceAddressPrefix || (x.sourceAddressPrefixes || []).join(', ') },
  { label: 'Src ports', key: 'sourcePortRange' },
  { label: 'Destination', render: (x) => x.destinationAddressPrefix || (x.destinationAddressPrefixes || []).join(', ') },
  { label: 'Dst ports', key: 'destinationPortRange' },
  ...extra,
];

export function NsgPage({ rg, name }) {
  const nsg = usePoll(() => get(`${rgPath(rg)}/networkSecurityGroups/${enc(name)}`), 5000, [rg, name]);
  const [editing, setEditing] = useState(null);
  const [error, setError] = useState(null);
  const [formKey, setFormKey] = useState(0);
  const n = nsg.data;
  if (!n) return <Page title={name}>{nsg.error ? <ErrorBox error={nsg.error} /> : <Loading what="the NSG" />}</Page>;
  const remove = async (rule) => {
    setError(null);
    try {
      await del(`${rgPath(rg)}/networkSecurityGroups/${enc(name)}/rules/${enc(rule.name)}`);
      nsg.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Page
      title={n.name}
      subtitle={
        <>
          Network security group in <strong>{n.resourceGroup}</strong>; used by {n.subnets.length ? `subnets ${n.subnets.join(', ')}` : 'no subnet'}
          {n.networkInterfaces.length ? ` and interfaces ${n.networkInterfaces.join(', ')}` : ''}.
        </>
      }
    >
      <ErrorBox error={error || nsg.error} />
      <Card title="Rules">
        <Table
          rows={n.rules.slice().sort((a, b) => a.direction.localeCompare(b.direction) || a.priority - b.priority)}
          empty="No rules of its own: only the default rules below apply."
          rowKey={(x) => x.name}
          columns={ruleColumns([
            {
              label: 'Actions',
              render: (x) => (
                <div class="actions">
                  <button type="button" onClick={() => setEditing(x)}>
                    Edit
                  </button>
                  <ConfirmButton label="Delete" onConfirm={() => remove(x)} />
                </div>
              ),
            },
          ])}
        />
      </Card>
      {editing ? (
        <RuleEditor
          key={`edit-${editing.name}`}
          nsg={n}
          editing={editing}
          onDone={() => {
            setEditing(null);
            nsg.reload();
          }}
          onCancel={() => setEditing(null)}
        />
      ) : (
        <RuleEditor
          key={`new-${formKey}`}
          nsg={n}
          onDone={() => {
            setFormKey((k) => k + 1);
            nsg.reload();
          }}
        />
      )}
      <Card title="Default rules">
        <p class="muted small">They apply after the rules above and cannot be changed; a rule with a lower priority number overrides them.</p>
        <Table rows={n.defaultRules} rowKey={(x) => x.name} columns={ruleColumns([])} />
      </Card>
    </Page>
  );
}

// ---- public IPs ----

export function PublicIps() {
  const groups = useGroups();
  const pips = usePoll(() => listAll('publicIPAddresses'), 5000);
  const [f, setF] = useState({ group: '', name: '', ports: '22,80,443' });
  const [err, setErr] = useState(null);
  const [error, setError] = useState(null);
  const group = f.group || groups.data?.[0]?.name || '';
  const create = async (e) => {
    e.preventDefault();
    setErr(null);
    try {
      const ports = f.ports
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
        .map((x) => {
          const [port, proto] = x.split('/');
          return { protocol: (proto || 'tcp').toLowerCase() === 'udp' ? 'Udp' : 'Tcp', port: /^\d+$/.test(port) ? Number(port) : port };
        });
      await post(`${rgPath(group)}/publicIPAddresses`, { name: f.name.trim(), ports });
      setF({ ...f, name: '' });
      pips.reload();
    } catch (x) {
      setErr(x);
    }
  };
  return (
    <Page title="Public IP addresses" subtitle="Host ports forwarded to a NIC's private address (through its NSGs).">
      <ErrorBox error={error || pips.error} />
      <Card title="Create a public IP">
        <form class="inline-form" onSubmit={create}>
          <GroupField groups={groups.data} value={group} onChange={(g) => setF({ ...f, group: g })} />
          <Field label="Name" error={err?.target === 'name' ? err.message : null}>
            {(a) => <input {...a} value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} required />}
          </Field>
          <Field label="Ports" error={err?.target?.startsWith('ports') ? err.message : null} hint="e.g. 22,80,443 or 53/udp">
            {(a) => <input {...a} value={f.ports} onInput={(e) => setF({ ...f, ports: e.currentTarget.value })} />}
          </Field>
          <button type="submit" class="primary" disabled={!group}>
            Create
          </button>
          {err && err.target !== 'name' && !err.target?.startsWith('ports') && <ErrorBox error={err} />}
        </form>
      </Card>
      <Card>
        <Table
          rows={pips.data}
          empty="No public IPs."
          columns={[
            { label: 'Name', key: 'name' },
            { label: 'Group', key: 'resourceGroup' },
            { label: 'Address', key: 'ipAddress' },
            { label: 'Ports (host → VM)', render: (x) => fmt.ports(x.ports, x.ipAddress) },
            { label: 'Interface', render: (x) => x.networkInterface || '-' },
            { label: 'State', render: (x) => <Badge state={x.provisioningState} /> },
            { label: 'Problem', render: (x) => x.error?.message || '' },
            {
              label: 'Actions',
              render: (x) => (
                <ConfirmButton
                  label="Delete"
                  disabled={!!x.networkInterface}
                  onConfirm={async () => {
                    setError(null);
                    try {
                      await del(`${rgPath(x.resourceGroup)}/publicIPAddresses/${enc(x.name)}`);
                      pips.reload();
                    } catch (e) {
                      setError(e);
                    }
                  }}
                />
              ),
            },
          ]}
        />
      </Card>
    </Page>
  );
}
