// vms.jsx - the list of virtual machines (live power state, actions) and
// the form that creates one.
import { useEffect, useState } from 'preact/hooks';
import { del, get, listAll, post, rgPath, vmPath } from '../api.js';
import { Link, navigate, route } from '../router.jsx';
import { keyLines } from '../sshkeys.js';
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

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let s = '';
  bytes.forEach((b) => {
    s += String.fromCharCode(b);
  });
  return btoa(s);
}

const TIERS = ['Standard_SSD', 'Premium_SSD', 'Standard_HDD'];

const imageLabel = (i) => i.alias || i.name;

// An image as the select shows it: friendly name, OS, size, and why it
// cannot be chosen (Unavailable: not built on this host).
function imageOption(i) {
  const os = i.os || (i.bootMode === 'firmware' ? 'custom image (boots its own kernel)' : 'custom image');
  const state = i.provisioningState === 'Succeeded' ? '' : i.provisioningState === 'Unavailable' ? ' (unavailable: not built on this host)' : ` (${i.provisioningState})`;
  return `${imageLabel(i)}: ${os}, ${i.sizeGiB} GiB${state}`;
}

// What the image's provisioning lets the admin account have (GET
// /v1/images: osProfile.sshKeys, osProfile.adminPassword), and why not.
function imageAccess(i) {
  if (!i) return { keys: false, password: false, noKeys: '', noPassword: '' };
  const o = i.osProfile || {};
  const n = `Image ${imageLabel(i)}`;
  const noKeys = o.sshKeys
    ? ''
    : i.provisioning === 'none'
      ? `${n} is not provisioned: nothing in it would make an admin account or install SSH keys. Use its console, or an image provisioned by cloud-init or kumo.`
      : `${n} is provisioned from kumo's metadata service, which kumo-switch runs, and this kumod runs without it: only its console reaches the VM.`;
  const noPassword = o.adminPassword
    ? ''
    : i.provisioning === 'kumo'
      ? `${n} takes SSH keys only (its SSH server, dropbear, is built for key logins).`
      : noKeys;
  return { keys: !!o.sshKeys, password: !!o.adminPassword, noKeys, noPassword };
}

const USER_DATA_HINT = {
  'cloud-init': 'Optional. Given to cloud-init at the first boot: a cloud-config, a script (#!/bin/sh) or MIME parts; at most 64 KiB.',
  kumo: 'Optional. A script the VM runs once at its first boot (#!/bin/sh); at most 64 KiB.',
  none: "Optional. This image is not provisioned: the data is only served by the metadata service (169.254.169.254) for the guest's own programs; at most 64 KiB.",
};

// kumod's error targets -> the form's fields (a target names a field, or a
// part of one: osProfile.sshPublicKeys[1] is the second key).
const TARGETS = [
  ['osProfile.adminUsername', 'adminUsername'],
  ['osProfile.sshPublicKeys', 'sshKeys'],
  ['osProfile.adminPassword', 'adminPassword'],
  ['osProfile', 'auth'],
  ['osDisk', 'tier'],
  ['name', 'name'],
  ['size', 'size'],
  ['image', 'image'],
  ['vnet', 'vnet'],
  ['subnet', 'subnet'],
  ['nsg', 'nsg'],
  ['publicIp', 'publicIp'],
  ['userData', 'userData'],
  ['group', 'group'],
];

export function errorField(target) {
  const t = target || '';
  for (const [prefix, field] of TARGETS) if (t === prefix || t.startsWith(prefix + '.') || t.startsWith(prefix + '[')) return field;
  return null;
}

function errorMessage(err) {
  const m = /^osProfile\.sshPublicKeys\[(\d+)\]/.exec(err.target || '');
  return m ? `Key ${Number(m[1]) + 1}: ${err.message}` : err.message;
}

// A private key must never leave the browser: refused before anything is sent.
const looksPrivate = (text) => /-----BEGIN [A-Z ]*PRIVATE KEY-----|PuTTY-User-Key-File/.test(text);
const PRIVATE = 'This is a private key: it never leaves your machine. Give the public key, the .pub file beside it (e.g. ~/.ssh/id_ed25519.pub).';

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
    auth: 'ssh',
    adminUsername: 'azureuser',
    sshKeys: '',
    adminPassword: '',
    confirmPassword: '',
    userData: '',
  });
  const [errs, setErrs] = useState({});
  const [formErr, setFormErr] = useState(null);
  const [submitting, setSubmitting] = useState(false);
  const [net, setNet] = useState({ vnets: [], nsgs: [] });
  // a change to a field takes its error away (the next submit checks again)
  const set = (k) => (e) => {
    setF({ ...f, [k]: e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value });
    const field = k === 'newGroup' ? 'group' : k;
    if (errs[field]) setErrs({ ...errs, [field]: undefined });
  };

  useEffect(() => {
    Promise.all([get('/v1/sizes'), get('/v1/images'), get('/v1/resourceGroups')])
      .then(([sizes, images, groups]) => {
        setCat({ sizes: sizes.value, images: images.value, groups: groups.value });
        const small = sizes.value.find((s) => s.name === 'B1s') || sizes.value[0];
        const usable = images.value.filter((i) => i.provisioningState === 'Succeeded');
        const image = (usable.find((i) => i.name === 'default') || usable[0])?.name || 'default';
        setF((x) => ({ ...x, size: small?.name || '', group: groups.value[0]?.name || '', image }));
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

  const image = cat?.images.find((i) => i.name === f.image);
  const access = imageAccess(image);
  // the authentication the image allows: a password only where it takes one
  const auth = !access.keys ? 'none' : f.auth === 'password' && !access.password ? 'ssh' : f.auth;
  const group = f.group || f.newGroup.trim();
  const vnet = net.vnets.find((v) => v.name === f.vnet);

  const loadKeyFile = async (e) => {
    const file = e.currentTarget.files?.[0];
    e.currentTarget.value = '';
    if (!file) return;
    if (file.size > 64 * 1024) {
      setErrs({ ...errs, sshKeys: `${file.name} is ${fmt.bytes(file.size)}: not a public key file (those are one line each)` });
      return;
    }
    const text = await file.text();
    if (looksPrivate(text)) {
      setErrs({ ...errs, sshKeys: `${file.name}: ${PRIVATE}` });
      return;
    }
    setErrs({ ...errs, sshKeys: undefined });
    setF((x) => ({ ...x, sshKeys: (x.sshKeys.trim() ? x.sshKeys.trim() + '\n' : '') + keyLines(text).join('\n') }));
  };

  const submit = async (e) => {
    e.preventDefault();
    setErrs({});
    setFormErr(null);
    if (!group) {
      setErrs({ group: 'resource group: choose one, or name a new one' });
      return;
    }
    if (auth === 'ssh' && looksPrivate(f.sshKeys)) {
      setErrs({ sshKeys: PRIVATE });
      return;
    }
    if (auth === 'password' && f.adminPassword !== f.confirmPassword) {
      setErrs({ confirmPassword: 'The two passwords differ: type the same password twice.' });
      return;
    }
    setSubmitting(true);
    try {
      if (!f.group) {
        try {
          await post('/v1/resourceGroups', { name: group });
        } catch (err) {
          if (err.code !== 'AlreadyExists') throw Object.assign(err, { target: err.target === 'name' ? 'group' : err.target });
        }
      }
      const body = { name: f.name.trim(), size: f.size, image: f.image, osDisk: { tier: f.tier }, publicIp: f.publicIp };
      if (auth !== 'none') {
        // kumod checks each part and names the one at fault (docs/api.md)
        body.osProfile = { adminUsername: f.adminUsername.trim() };
        const keys = keyLines(f.sshKeys);
        if (auth === 'ssh' && keys.length) body.osProfile.sshPublicKeys = keys;
        if (auth === 'password') body.osProfile.adminPassword = f.adminPassword;
      }
      if (f.vnet) {
        body.vnet = f.vnet;
        body.subnet = f.subnet;
      }
      if (f.nsg === '-') body.nsg = null;
      else if (f.nsg) body.nsg = f.nsg;
      if (f.userData.trim()) body.userData = b64(f.userData);
      await post(`${rgPath(group)}/virtualMachines`, body);
      navigate(route('vms', group, body.name));
    } catch (err) {
      const field = errorField(err.target);
      if (field) setErrs({ [field]: errorMessage(err) });
      else setFormErr(err);
    } finally {
      setSubmitting(false);
    }
  };

  if (loadErr) return <Page title="Create a virtual machine"><ErrorBox error={loadErr} /></Page>;
  if (!cat) return <Page title="Create a virtual machine"><Loading what="sizes and images" /></Page>;
  const size = cat.sizes.find((s) => s.name === f.size);
  const unavailable = cat.images.filter((i) => i.provisioningState !== 'Succeeded');
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
          <Field
            label="Image"
            error={errs.image}
            wide
            hint={
              <>
                {image && (
                  <span data-image-hint>
                    {image.urn ? <code>{image.urn}</code> : image.name} · provisioned by {image.provisioning === 'none' ? 'nothing (no admin account)' : image.provisioning} · {image.bootMode} boot
                  </span>
                )}
                {unavailable.map((i) => (
                  <span class="unavailable" data-unavailable={i.name}>
                    <br />
                    {imageLabel(i)} is {i.provisioningState}: {i.error || 'not ready yet'}
                  </span>
                ))}
              </>
            }
          >
            {(a) => (
              <select {...a} name="image" value={f.image} onChange={set('image')}>
                {cat.images.map((i) => (
                  <option value={i.name} disabled={i.provisioningState !== 'Succeeded'} title={i.error || i.urn || ''}>
                    {imageOption(i)}
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
        <fieldset aria-describedby="admin-about">
          <legend>Administrator account</legend>
          <p id="admin-about" class="muted small wide-row">
            The account you log in with over SSH, made by the image at the first boot
            {image?.provisioning === 'cloud-init' ? ' (cloud-init: with sudo)' : image?.provisioning === 'kumo' ? " (kumo's init: the keys log in as root too)" : ''}.
          </p>
          {access.keys ? (
            <fieldset class="choice wide-row" aria-invalid={errs.auth ? 'true' : undefined} aria-describedby={errs.auth ? 'auth-err' : undefined}>
              <legend>Authentication type</legend>
              <label class="check">
                <input type="radio" name="auth" value="ssh" checked={auth === 'ssh'} onChange={() => setF({ ...f, auth: 'ssh' })} /> SSH public key
              </label>
              <label class="check" title={access.noPassword || undefined}>
                <input type="radio" name="auth" value="password" disabled={!access.password} checked={auth === 'password'} onChange={() => setF({ ...f, auth: 'password' })} /> Password
                {!access.password && <span class="muted small">(not with this image)</span>}
              </label>
              <label class="check">
                <input type="radio" name="auth" value="none" checked={auth === 'none'} onChange={() => setF({ ...f, auth: 'none' })} /> None (the console only)
              </label>
              {errs.auth && (
                <small id="auth-err" class="field-error" role="alert">
                  {errs.auth}
                </small>
              )}
            </fieldset>
          ) : (
            <p class="notice wide-row" data-no-admin>
              No administrator account: {access.noKeys}
            </p>
          )}
          {!access.password && access.keys && auth === 'ssh' && <p class="muted small wide-row">{access.noPassword} Passwords need an image provisioned by cloud-init (Debian13).</p>}
          {auth !== 'none' && (
            <Field label="Username" error={errs.adminUsername} hint="Lower-case letters, digits, _ and -, starting with a letter; not root, admin or a name the image uses itself.">
              {(a) => <input {...a} name="adminUsername" value={f.adminUsername} onInput={set('adminUsername')} autocomplete="off" spellcheck={false} />}
            </Field>
          )}
          {auth === 'ssh' && (
            <Field
              label="SSH public keys"
              error={errs.sshKeys}
              wide
              hint={
                <>
                  One OpenSSH public key a line (up to 16), as in <code>~/.ssh/id_ed25519.pub</code> or an authorized_keys file. No key yet?{' '}
                  <code>ssh-keygen -t ed25519</code> makes one. The private key stays with you.
                </>
              }
            >
              {(a) => <textarea {...a} name="sshKeys" rows={3} value={f.sshKeys} onInput={set('sshKeys')} placeholder="ssh-ed25519 AAAA… you@laptop" spellcheck={false} />}
            </Field>
          )}
          {auth === 'ssh' && (
            <label class="check wide-row file-pick">
              Or load a .pub file: <input type="file" name="sshKeyFile" accept=".pub,text/plain" onChange={loadKeyFile} />
            </label>
          )}
          {auth === 'password' && (
            <>
              <Field label="Password" error={errs.adminPassword} hint="12-123 characters, 3 of: lower case, upper case, digits, others. Turns on SSH password logins; sudo asks for it. kumod keeps only its hash.">
                {(a) => <input {...a} type="password" name="adminPassword" value={f.adminPassword} onInput={set('adminPassword')} autocomplete="new-password" />}
              </Field>
              <Field label="Confirm password" error={errs.confirmPassword}>
                {(a) => <input {...a} type="password" name="confirmPassword" value={f.confirmPassword} onInput={set('confirmPassword')} autocomplete="new-password" />}
              </Field>
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>Networking</legend>
          <Field label="Virtual network" error={errs.vnet} hint={!f.vnet && net.vnets.length ? "As az vm create does, kumod puts the VM in the group's first VNet with a subnet (oldest first)." : undefined}>
            {(a) => (
              <select {...a} name="vnet" value={f.vnet} onChange={set('vnet')}>
                <option value="">{net.vnets.length ? "Default: the group's network" : `New: ${f.name || 'NAME'}-vnet (10.0.0.0/16)`}</option>
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
                <option value="">{!f.vnet && net.vnets.length ? `Default: the subnet's, or new ${f.name || 'NAME'}-nsg` : `New: ${f.name || 'NAME'}-nsg (allows SSH)`}</option>
                {net.nsgs.map((n) => (
                  <option value={n.name}>{n.name}</option>
                ))}
                <option value="-">None</option>
              </select>
            )}
          </Field>
          <Field label="Public IP" error={errs.publicIp} hint="Ports of the host (kumod --public-address, from --public-ports) forwarded to TCP 22, 80 and 443 of the VM: without one, SSH cannot reach it.">
            {(a) => (
              <span class="check">
                <input {...a} type="checkbox" name="publicIp" checked={f.publicIp} onChange={set('publicIp')} /> Give the VM a public IP
              </span>
            )}
          </Field>
        </fieldset>
        <fieldset>
          <legend>Advanced</legend>
          <Field label="User data" error={errs.userData} wide hint={USER_DATA_HINT[image?.provisioning] || USER_DATA_HINT.kumo}>
            {(a) => <textarea {...a} name="userData" rows={5} value={f.userData} onInput={set('userData')} placeholder={image?.provisioning === 'cloud-init' ? '#cloud-config\npackages: [nginx]' : '#!/bin/sh\necho hello > /root/hello'} spellcheck={false} />}
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
