/**
 * Slot numbering of a build. A tenant's vectors get consecutive slots (tenants in name order), and
 * within a tenant they are ordered by coarse cell, so each (tenant, cell) is one contiguous slot
 * range: the tenant's own inverted lists, read from the slot blocks (the `cells` plan).
 */
import { createError } from '../errors.js';
import { DEFAULT_TENANT, checkTenantName } from './tenants.js';

export interface TenantLayout {
  name: string;
  start: number;
  end: number;
  /** Coarse cells holding the tenant's vectors, ascending. */
  cellIds: Uint32Array;
  /** Slot where each cell's range starts, plus `end` last (length cellIds.length + 1). */
  cellStarts: Uint32Array;
}

export interface SlotLayout {
  rowOfSlot: Uint32Array;
  slotOfRow: Uint32Array;
  tenants: TenantLayout[];
}

/** Rows per tenant name, in input order, after checking every name (fails before any build work). */
export function groupByTenant(tenants: string | ArrayLike<string> | undefined, n: number): Map<string, Uint32Array> {
  if (tenants === undefined || typeof tenants === 'string') {
    const name = tenants === undefined ? DEFAULT_TENANT : checkTenantName(tenants, 'tenants');
    return new Map([[name, Uint32Array.from({ length: n }, (_, i) => i)]]);
  }
  if (typeof tenants !== 'object' || tenants === null || tenants.length !== n) {
    throw createError('STRATA_INVALID_TENANT', `tenants must be one name or an array with one name per vector (${n})`, 'tenants');
  }
  const byName = new Map<string, number[]>();
  for (let r = 0; r < n; r++) {
    const name = checkTenantName(tenants[r], `tenants[${r}]`);
    let rows = byName.get(name);
    if (!rows) byName.set(name, (rows = []));
    rows.push(r);
  }
  return new Map([...byName].map(([name, rows]) => [name, Uint32Array.from(rows)]));
}

/** Number the rows: tenants by name, then by coarse cell, then by input order. */
export function layoutSlots(groups: Map<string, Uint32Array>, cellOfRow: Uint32Array, n: number): SlotLayout {
  const names = [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rowOfSlot = new Uint32Array(n);
  const slotOfRow = new Uint32Array(n);
  const tenants: TenantLayout[] = [];
  let slot = 0;
  for (const name of names) {
    const rows = Uint32Array.from(groups.get(name)!).sort((a, b) => cellOfRow[a] - cellOfRow[b] || a - b);
    const start = slot;
    const cellIds: number[] = [];
    const cellStarts: number[] = [];
    for (const r of rows) {
      const c = cellOfRow[r];
      if (cellIds.length === 0 || cellIds[cellIds.length - 1] !== c) {
        cellIds.push(c);
        cellStarts.push(slot);
      }
      rowOfSlot[slot] = r;
      slotOfRow[r] = slot++;
    }
    cellStarts.push(slot);
    tenants.push({ name, start, end: slot, cellIds: Uint32Array.from(cellIds), cellStarts: Uint32Array.from(cellStarts) });
  }
  return { rowOfSlot, slotOfRow, tenants };
}
