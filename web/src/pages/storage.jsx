// storage.jsx - managed disks and snapshots: lists, create, snapshot, delete.
import { useState } from 'preact/hooks';
import { del, get, listAll, post, rgPath } from '../api.js';
import { Link, route } from '../router.jsx';
import { Badge, Card, ConfirmButton, ErrorBox, Field, Page, Table, usePoll } from '../ui.jsx';

const TIERS = ['Standard_SSD', 'Premium_SSD', 'Standard_HDD'];

function CreateDisk({ groups, onDone }) {
  const [f, setF] = useState({ group: '', name: '', sizeGiB: '8', tier: 'Standard_SSD' });
  const [errs, setErrs] = useState({});
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const group = f.group || groups[0]?.name || '';
  const submit = async (e) => {
    e.preventDefault();
    setErrs({});
    try {
      await post(`${rgPath(group)}/disks`, { name: f.name.trim(), sizeGiB: Number(f.sizeGiB), tier: f.tier });
      setF({ ...f, name: '' });
      onDone();
    } catch (err) {
      setErrs({ [err.target || '_']: err.message });
    }
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label="Create a disk">
      <Field label="Resource group">
        {(a) => (
          <select {...a} value={group} onChange={set('group')}>
            {groups.map((g) => (
              <option>{g.name}</option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Name" error={errs.name}>
        {(a) => <input {...a} value={f.name} onInput={set('name')} required />}
      </Field>
      <Field label="Size (GiB)" error={errs.sizeGiB}>
        {(a) => <input {...a} type="number" min="1" value={f.sizeGiB} onInput={set('sizeGiB')} />}
      </Field>
      <Field label="Tier" error={errs.tier}>
        {(a) => (
          <select {...a} value={f.tier} onChange={set('tier')}>
            {TIERS.map((t) => (
              <option value={t}>{t.replace('_', ' ')}</option>
            ))}
          </select>
        )}
      </Field>
      <button type="submit" class="primary" disabled={!group}>
        Create disk
      </button>
      {errs._ && <ErrorBox>{errs._}</ErrorBox>}
    </form>
  );
}

export function Disks() {
  const data = usePoll(
    async () => {
      const [groups, disks, snaps] = await Promise.all([get('/v1/resourceGroups'), listAll('disks'), listAll('snapshots')]);
      return { groups: groups.value, disks, snaps };
    },
    3000,
  );
  const [error, setError] = useState(null);
  const [snapErr, setSnapErr] = useState(null);
  const act = (fn) => async () => {
    setError(null);
    try {
      await fn();
      data.reload();
    } catch (e) {
      setError(e);
    }
  };
  const d = data.data;
  return (
    <Page title="Disks and snapshots" subtitle="Managed disks perform and bill as the smallest size of their tier that holds them.">
      <ErrorBox error={error || data.error} />
      <Card title="Disks">
        {d && <CreateDisk groups={d.groups} onDone={data.reload} />}
        <Table
          rows={d?.disks}
          empty="No disks."
          columns={[
            { label: 'Name', key: 'name' },
            { label: 'Group', key: 'resourceGroup' },
            { label: 'Size', render: (x) => `${x.sizeGiB} GiB` },
            { label: 'Tier (billed as)', render: (x) => `${x.tier} (${x.billedSize?.name})` },
            { label: 'IOPS / MB/s', render: (x) => `${x.iops} / ${x.mbps}` },
            {
              label: 'Attached to',
              render: (x) =>
                x.managedBy ? (
                  <>
                    <Link href={route('vms', x.resourceGroup, x.managedBy)}>{x.managedBy}</Link> {x.osDisk ? '(OS disk)' : `(LUN ${x.lun})`}
                  </>
                ) : (
                  <span class="muted">-</span>
                ),
            },
            { label: 'State', render: (x) => <Badge state={x.provisioningState} /> },
            {
              label: 'Actions',
              render: (x) => (
                <div class="actions">
                  <button
                    type="button"
                    onClick={async () => {
                      setSnapErr(null);
                      try {
                        await post(`${rgPath(x.resourceGroup)}/snapshots`, { name: `${x.name}-snap-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}`, disk: x.name });
                        data.reload();
                      } catch (e) {
                        setSnapErr(e);
                      }
                    }}
                  >
                    Snapshot
                  </button>
                  <ConfirmButton label="Delete" disabled={!!x.managedBy} onConfirm={act(() => del(`${rgPath(x.resourceGroup)}/disks/${encodeURIComponent(x.name)}`))} />
                </div>
              ),
            },
          ]}
        />
        <ErrorBox error={snapErr} />
      </Card>
      <Card title="Snapshots">
        <Table
          rows={d?.snaps}
          empty="No snapshots. Take one from a disk above (its VM must be stopped)."
          columns={[
            { label: 'Name', key: 'name' },
            { label: 'Group', key: 'resourceGroup' },
            { label: 'Source disk', key: 'sourceDisk' },
            { label: 'Size', render: (x) => `${x.sizeGiB} GiB` },
            { label: 'State', render: (x) => <Badge state={x.provisioningState} /> },
            { label: 'Error', render: (x) => x.error?.message || '' },
            {
              label: 'Actions',
              render: (x) => <ConfirmButton label="Delete" onConfirm={act(() => del(`${rgPath(x.resourceGroup)}/snapshots/${encodeURIComponent(x.name)}`))} />,
            },
          ]}
        />
      </Card>
    </Page>
  );
}
