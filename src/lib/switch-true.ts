/** FreeSWITCH's switch_true: yes, on, true, t, enabled, active, allow (any case) or a non-zero number. */
export function switchTrue(value: string | undefined | null): boolean {
  if (value === undefined || value === null) return false;
  const v = value.trim().toLowerCase();
  if (v === 'yes' || v === 'on' || v === 'true' || v === 't' || v === 'enabled' || v === 'active' || v === 'allow') {
    return true;
  }
  return /^[+-]?\d+$/.test(v) && Number(v) !== 0;
}
