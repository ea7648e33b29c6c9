// vms.jsx - the list of virtual machines (live power state, actions) and
// the form that creates one.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, del, get, listAll, post, rgPath, vmPath } from '../api.js';
import { Link, navigate, route } from '../router.jsx';
import { Badge, Card, ConfirmButton, ErrorBox, Field, Loading, Page, Table, fmt, usePoll } from '../ui.jsx';

// What each action is called, and from which power states it makes sense.
export const ACTIONS = {
  start: { label: 'Start', from: ['Stopped', 'Deallocated'] },
  stop: { label: 'Stop', from: ['Running'] },
  restart: { label: 'Restart', from: ['Running'] },
  deallocate: { label: 'Deallocate', from: ['Running', 'Stopped'] },
};

export const busy = (vm) => ['Creating', 'Updating', 'Deleting'].includes(vm.provisioningState);

export async function vmAction(vm, action) {
  if (action === 'delete') return del(vmPath(vm.resourceGroup, vm.name));
  return post(`${vmPath(vm.resourceGroup, vm.name)}/${action}`);
}

export function VmActions({ vm, onDone, onError, compact }) {
  const run = async (a) => {
    try {
      await vmAction(vm, a);
      onDone?.(a);
    } catch (e) {
      onError?.(e);
    }
  };
  return (
    <div class="actions" role="group" aria-label={`Actions on ${vm.name}`}>
      {Object.entries(ACTIONS).map(([a, { label, from }]) => (
        <button type="button" disabled={busy(vm) || !from.includes(vm.powerState)} onClick={() => run(a)} data-action={a}>
          {label}
        </button>
      ))}
      {!compact && (
        <ConfirmButton label="Delete" confirm={`Delete ${vm.name} and its disks?`} disabled={vm.provisioningState === 'Deleting'} onConfirm={() => run('delete')} />
      )}
    </div>
  );
}

function publicEndpoints(vm) {
  const out = [];
  (vm.networkInterfaces || []).forEach((n) => {
    if (n.publicIp) out.push(fmt.ports(n.publicIp.ports, n.publicIp.ipAddress));
  });
  return out.join('; ') || '-';
}

export function VmList() {
  const vms = usePoll(() => listAll('virtualMachines'), 2000);
  const [error, setError] = useState(null);
  const rows = (vms.data || []).slice().sort((a, b) => (a.resourceGroup + '/' + a.name).localeCompare(b.resourceGroup + '/' + b.name));
  return (
    <Page
      title="Virtual machines"
      subtitle="Power states update live."
      actions={
        <button type="button" class="primary" onClick={() => navigate('/vms/new')}>
          Create a VM
        </button>
      }
    >
      <ErrorBox error={error || vms.error} />
      {!vms.data && !vms.error && <Loading what="VMs" />}
      <Card>
        <Table
          caption="Virtual machines"
          empty={
            <>
              No virtual machines yet. <Link href="/vms/new">Create one</Link>.
            </>
          }
          rows={vms.data && rows}
          columns={[
            {
              label: 'Name',
              render: (v) => (
                <Link href={route('vms', v.resourceGroup, v.name)} data-vm={v.name}>
                  {v.name}
                </Link>
              ),
            },
            { label: 'Resource group', key: 'resourceGroup' },
            { label: 'Power state', render: (v) => <Badge state={v.powerState} label={v.powerState} /> },
            {
              label: 'Provisioning',
              render: (v) => (v.provisioningState === 'Succeeded' ? <span class="muted">Succeeded</span> : <Badge state={v.provisioningState} />),
            },
            { label: 'Size', render: (v) => `${v.size} (${v.vcpus} vCPU, ${fmt.mib(v.memoryMiB)})` },
            { label: 'Private IP', render: (v) => (v.networkInterfaces || []).map((n) => n.privateIp).join(', ') || '-' },
            { label: 'Public endpoints', render: publicEndpoints },
            { label: 'Actions', render: (v) => <VmActions vm={v} compact onDone={vms.reload} onError={setError} /> },
          ]}
        />
      </Card>
    </Page>
  );
}

// A script that installs an SSH key, ahead of the user's own script (the
// API has no SSH key field: the key travels in the user data, which the
// image runs at first boot).
export function composeUserData(sshKey, userData) {
  const key = sshKey.trim();
  if (!key) return userData;
  if (userData.trim() && !userData.startsWith('#!/bin/sh') && !userData.startsWith('#!/bin/bash') && userData.startsWith('#'))
    throw new ApiError(400, 'InvalidField', 'userData: with an SSH key, the user data must be a shell script (#!/bin/sh) or empty: the key is installed by a script put in front of it', 'userData');
  if (!/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/.test(key) || key.includes('\n'))
    throw new ApiError(400, 'InvalidField', 'sshKey: not an OpenSSH public key (one line, like "ssh-ed25519 AAAA... you@host")', 'sshKey');
  const quoted = key.replace(/'/g, "'\\''");
  const install = `mkdir -p /root/.ssh && chmod 700 /root/.ssh && printf '%s\\n' '${quoted}' >> /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys\n`;
  const body = userData.startsWith('#!') ? userData.slice(userData.indexOf('\n') + 1) : userData;
  return `#!/bin/sh\n${install}${body}`;
}

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let s = '';
  bytes.forEach((b) => {
    s += String.fromCharCode(b);
  });
  return btoa(s);
}

const TIERS = ['Standard_SSD', 'Premium_SSD', 'Standard_HDD'];

export function VmCreate() {
  const [cat, setCat] = useState(null);
  const [loadErr, setLoadErr] = useState(null);
  const [f, setF] = useState({
    name: '',
    group: '',
    newGroup: '',
    size: '',
    image: 'default',
    vnet: '',
    subnet: 'default',
    nsg: '',
    publicIp: true,
    tier: 'Standard_SSD',
    sshKey: '',
    userData: '',
  });
  const [errs, setErrs] = useState({});
  const [formErr, setFormErr] = useState(null);
  const [submitting, setSubmitting] = useState(false);
  const [net, setNet] = useState({ vnets: [], nsgs: [] });
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value });

  useEffect(() => {
    Promise.all([get('/v1/sizes'), get('/v1/images'), get('/v1/resourceGroups')])
      .then(([sizes, images, groups]) => {
        setCat({ sizes: sizes.value, images: images.value, groups: groups.value });
        const small = sizes.value.find((s) => s.name === 'B1s') || sizes.value[0];
        setF((x) => ({ ...x, size: small?.name || '', group: groups.value[0]?.name || '' }));
      })
      .catch(setLoadErr);
  }, []);
  useEffect(() => {
    if (!f.group) {
      setNet({ vnets: [], nsgs: [] });
      return;
    }
    Promise.all([get(`${rgPath(f.group)}/virtualNetworks`), get(`${rgPath(f.group)}/networkSecurityGroups`)])
      .then(([v, n]) => setNet({ vnets: v.value, nsgs: n.value }))
      .catch(() => setNet({ vnets: [], nsgs: [] }));
  }, [f.group]);

  const group = f.group || f.newGroup.trim();
  const vnet = net.vnets.find((v) => v.name === f.vnet);

  const submit = async (e) => {
    e.preventDefault();
    setErrs({});
    setFormErr(null);
    if (!group) {
      setErrs({ group: 'resource group: choose one, or name a new one' });
      return;
    }
    setSubmitting(true);
    try {
      const userData = composeUserData(f.sshKey, f.userData);
      if (!f.group) {
        try {
          await post('/v1/resourceGroups', { name: group });
        } catch (err) {
          if (err.code !== 'AlreadyExists') throw Object.assign(err, { target: err.target === 'name' ? 'group' : err.target });
        }
      }
      const body = { name: f.name.trim(), size: f.size, image: f.image, osDisk: { tier: f.tier }, publicIp: f.publicIp };
      if (f.vnet) {
        body.vnet = f.vnet;
        body.subnet = f.subnet;
      }
      if (f.nsg === '-') body.nsg = null;
      else if (f.nsg) body.nsg = f.nsg;
      if (userData.trim()) body.userData = b64(userData);
      await post(`${rgPath(group)}/virtualMachines`, body);
      navigate(route('vms', group, body.name));
    } catch (err) {
      const t = err.target || '';
      const field = { name: 'name', size: 'size', image: 'image', vnet: 'vnet', subnet: 'subnet', nsg: 'nsg', publicIp: 'publicIp', userData: 'userData', sshKey: 'sshKey', 'osDisk.tier': 'tier', group: 'group' }[t];
      if (field) setErrs({ [field]: err.message });
      else setFormErr(err);
    } finally {
      setSubmitting(false);
    }
  };

  if (loadErr) return <Page title="Create a virtual machine"><ErrorBox error={loadErr} /></Page>;
  if (!cat) return <Page title="Create a virtual machine"><Loading what="sizes and images" /></Page>;
  const size = cat.sizes.find((s) => s.name === f.size);
  return (
    <Page title="Create a virtual machine" subtitle="kumod makes the network (VNet, NSG allowing SSH, public IP) the way az vm create does, unless you pick your own.">
      <form class="card form" onSubmit={submit} noValidate aria-label="Create a virtual machine">
        <fieldset>
          <legend>Basics</legend>
          <Field label="Name" error={errs.name} hint="Also the guest's host name. Letters, digits, . _ -">
            {(a) => <input {...a} name="name" required value={f.name} onInput={set('name')} autocomplete="off" />}
          </Field>
          <Field label="Resource group" error={errs.group}>
            {(a) => (
              <select {...a} name="group" value={f.group} onChange={set('group')}>
                {cat.groups.map((g) => (
                  <option value={g.name}>{g.name}</option>
                ))}
                <option value="">New resource group…</option>
              </select>
            )}
          </Field>
          {!f.group && (
            <Field label="New resource group name" error={errs.group}>
              {(a) => <input {...a} name="newGroup" value={f.newGroup} onInput={set('newGroup')} />}
            </Field>
          )}
          <Field label="Size" error={errs.size} hint={size && `${size.vcpus} vCPU, ${fmt.mib(size.memoryMiB)}, ${fmt.money(size.pricePerHour)}/hour${size.burstable ? `, burstable (baseline ${size.burstable.baselinePercent} %)` : ''}`}>
            {(a) => (
              <select {...a} name="size" value={f.size} onChange={set('size')}>
                {cat.sizes.map((s) => (
                  <option value={s.name}>
                    {s.name}: {s.vcpus} vCPU, {fmt.mib(s.memoryMiB)}, {fmt.money(s.pricePerHour)}/h
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Image" error={errs.image}>
            {(a) => (
              <select {...a} name="image" value={f.image} onChange={set('image')}>
                {cat.images.map((i) => (
                  <option value={i.name} disabled={i.provisioningState !== 'Succeeded'}>
                    {i.name} ({i.bootMode} boot, {i.sizeGiB} GiB)
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="OS disk tier" error={errs.tier}>
            {(a) => (
              <select {...a} name="tier" value={f.tier} onChange={set('tier')}>
                {TIERS.map((t) => (
                  <option value={t}>{t.replace('_', ' ')}</option>
                ))}
              </select>
            )}
          </Field>
        </fieldset>
        <fieldset>
          <legend>Networking</legend>
          <Field label="Virtual network" error={errs.vnet}>
            {(a) => (
              <select {...a} name="vnet" value={f.vnet} onChange={set('vnet')}>
                <option value="">New: {f.name || 'NAME'}-vnet (10.0.0.0/16)</option>
                {net.vnets.map((v) => (
                  <option value={v.name}>{v.name} ({v.addressSpaces.join(', ')})</option>
                ))}
              </select>
            )}
          </Field>
          {vnet && (
            <Field label="Subnet" error={errs.subnet}>
              {(a) => (
                <select {...a} name="subnet" value={f.subnet} onChange={set('subnet')}>
                  {vnet.subnets.map((s) => (
                    <option value={s.name}>
                      {s.name} ({s.addressPrefix}, {s.availableAddresses} free)
                    </option>
                  ))}
                </select>
              )}
            </Field>
          )}
          <Field label="Network security group" error={errs.nsg}>
            {(a) => (
              <select {...a} name="nsg" value={f.nsg} onChange={set('nsg')}>
                <option value="">New: {f.name || 'NAME'}-nsg (allows SSH)</option>
                {net.nsgs.map((n) => (
                  <option value={n.name}>{n.name}</option>
                ))}
                <option value="-">None</option>
              </select>
            )}
          </Field>
          <Field label="Public IP" error={errs.publicIp} hint="Ports of the host (kumod --public-address, from --public-ports) forwarded to TCP 22, 80 and 443 of the VM.">
            {(a) => (
              <span class="check">
                <input {...a} type="checkbox" name="publicIp" checked={f.publicIp} onChange={set('publicIp')} /> Give the VM a public IP
              </span>
            )}
          </Field>
        </fieldset>
        <fieldset>
          <legend>Access and first boot</legend>
          <Field label="SSH public key" error={errs.sshKey} wide hint="Optional. Installed into /root/.ssh/authorized_keys by the user data at first boot (kumo's default image has no SSH server yet).">
            {(a) => <textarea {...a} name="sshKey" rows={2} value={f.sshKey} onInput={set('sshKey')} placeholder="ssh-ed25519 AAAA… you@laptop" spellcheck={false} />}
          </Field>
          <Field label="User data" error={errs.userData} wide hint="Optional. A script the VM runs at its first boot (at most 64 KiB).">
            {(a) => <textarea {...a} name="userData" rows={5} value={f.userData} onInput={set('userData')} placeholder={'#!/bin/sh\necho hello > /root/hello'} spellcheck={false} />}
          </Field>
        </fieldset>
        <ErrorBox error={formErr} />
        <div class="form-actions">
          <button type="submit" class="primary" disabled={submitting}>
            {submitting ? 'Creating…' : 'Create'}
          </button>
          <button type="button" onClick={() => history.back()}>
            Cancel
          </button>
          {size && <span class="muted">Costs {fmt.money(size.pricePerHour)} per hour while allocated, plus its disk and public IP.</span>}
        </div>
      </form>
    </Page>
  );
}
