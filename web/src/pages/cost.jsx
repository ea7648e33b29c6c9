// cost.jsx - what the cloud cost over a period, by resource group, by
// resource or by meter: a bar chart and the table behind it.
import { useState } from 'preact/hooks';
import { get } from '../api.js';
import { Card, ErrorBox, Loading, Page, Table, fmt, usePoll } from '../ui.jsx';
import { BarChart } from '../charts.jsx';
import { monthStart } from './overview.jsx';

const PERIODS = [
  ['this month', () => monthStart()],
  ['last 24 hours', () => new Date(Date.now() - 86400e3).toISOString()],
  ['last 30 days', () => new Date(Date.now() - 30 * 86400e3).toISOString()],
  ['everything', () => null],
];
const GROUPINGS = [
  ['resourceGroup', 'Resource group'],
  ['vm', 'Resource'],
  ['meter', 'Meter'],
];

export function Cost() {
  const [period, setPeriod] = useState(0);
  const [groupBy, setGroupBy] = useState('resourceGroup');
  const cost = usePoll(
    () => {
      const from = PERIODS[period][1]();
      return get(`/v1/cost?groupBy=${groupBy}${from ? `&from=${encodeURIComponent(from)}` : ''}`);
    },
    15000,
    [period, groupBy],
  );
  const c = cost.data;
  const rows = c ? c.rows.slice().sort((a, b) => b.cost - a.cost) : null;
  return (
    <Page title="Cost" subtitle="From kumod's usage records: VM hours while allocated, disks by billed size, public IPs by the hour.">
      <div class="toolbar">
        <div role="group" aria-label="Period">
          {PERIODS.map(([label], i) => (
            <button type="button" aria-pressed={period === i} onClick={() => setPeriod(i)}>
              {label}
            </button>
          ))}
        </div>
        <div role="group" aria-label="Group by">
          {GROUPINGS.map(([k, label]) => (
            <button type="button" aria-pressed={groupBy === k} onClick={() => setGroupBy(k)}>
              by {label.toLowerCase()}
            </button>
          ))}
        </div>
      </div>
      <ErrorBox error={cost.error} />
      {!c && !cost.error && <Loading what="cost" />}
      {c && (
        <>
          <Card title={`Total: ${fmt.money(c.total)} ${c.currency}`}>
            <p class="muted small">
              {fmt.time(c.from)} to {fmt.time(c.to)}
            </p>
            {rows.length ? (
              <BarChart title={`Cost by ${GROUPINGS.find((g) => g[0] === groupBy)[1].toLowerCase()}`} unit="$" rows={rows.map((r) => ({ label: r.key, value: r.cost }))} />
            ) : (
              <p class="muted">Nothing was billed in this period.</p>
            )}
          </Card>
          <Card title="Details">
            <Table
              rows={rows}
              rowKey={(r) => r.key}
              columns={[
                { label: GROUPINGS.find((g) => g[0] === groupBy)[1], key: 'key' },
                { label: 'Cost', class: 'num', render: (r) => fmt.money(r.cost) },
                {
                  label: groupBy === 'meter' ? 'Quantity' : 'Meters',
                  render: (r) =>
                    groupBy === 'meter'
                      ? `${r.quantity.toFixed(3)} ${r.unit} at ${fmt.money(r.pricePerUnit)}`
                      : (r.meters || []).map((m) => `${m.meter}: ${m.quantity.toFixed(3)} ${m.unit} (${fmt.money(m.cost)})`).join('; '),
                },
              ]}
            />
          </Card>
        </>
      )}
    </Page>
  );
}
