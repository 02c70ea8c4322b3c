/**
 * Owners across machines (issue 17): the source sends each entry's uid and gid with the user and
 * group names they have there (/etc/passwd, /etc/group); the destination gives an entry the local
 * id of that name when the name exists here, else the number as sent. --numeric-ids keeps the
 * numbers (never maps), as rsync's flag does. The name tables are read once per process, cached;
 * `IdNames` takes the tables as text, so tests map without touching /etc.
 */
import { readFileSync } from 'node:fs';

/** One name table (passwd or group): id → name and name → id; the first line for an id or name wins. */
export interface IdTable {
  nameOf: Map<number, string>;
  idOf: Map<string, number>;
}

/** Parses /etc/passwd or /etc/group text: `name:x:id:…` per line; malformed lines are skipped. */
export function parseIdTable(text: string): IdTable {
  const table: IdTable = { nameOf: new Map(), idOf: new Map() };
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const name = fields[0];
    const idText = fields[2];
    if (!name || idText === undefined || !/^\d{1,10}$/.test(idText)) continue;
    const id = Number(idText);
    if (id > 0xffffffff) continue;
    if (!table.nameOf.has(id)) table.nameOf.set(id, name);
    if (!table.idOf.has(name)) table.idOf.set(name, id);
  }
  return table;
}

/** The users and groups of one machine. */
export class IdNames {
  constructor(
    readonly users: IdTable,
    readonly groups: IdTable,
  ) {}

  static fromText(passwd: string, group: string): IdNames {
    return new IdNames(parseIdTable(passwd), parseIdTable(group));
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

let local: IdNames | undefined;

/** This machine's users and groups, read once (a missing file maps nothing). */
export function localIdNames(): IdNames {
  local ??= IdNames.fromText(readOrEmpty('/etc/passwd'), readOrEmpty('/etc/group'));
  return local;
}

/** The names the source's ids have there (empty where none), for the wire. */
export function ownerNames(uid: number, gid: number, names: IdNames): { user: string; group: string } {
  return { user: names.users.nameOf.get(uid) ?? '', group: names.groups.nameOf.get(gid) ?? '' };
}

/**
 * The id a sent name and number get at the destination: the local id of that name where the name
 * exists here, else the number as sent (rsync keeps the number too). --numeric-ids never asks.
 */
export function mappedId(table: IdTable, name: string, sent: number): number {
  return (name === '' ? undefined : table.idOf.get(name)) ?? sent;
}

/** The longest user or group name a peer may send (Linux useradd allows 32; glibc has no limit below this). */
export const MAX_ID_NAME_BYTES = 256;

/**
 * Whether a peer's user or group name is one to look up: empty (none), or at most
 * MAX_ID_NAME_BYTES of printable characters without ':' (the tables' separator), '/' or NUL.
 */
export function isPeerIdName(name: string): boolean {
  // A manifest names the same few owners over and over: the last name found good is not checked again.
  if (name === '' || name === lastGoodIdName) return true;
  if (Buffer.byteLength(name) > MAX_ID_NAME_BYTES) return false;
  if (/[\u0000-\u001f\u007f:/]/.test(name)) return false;
  lastGoodIdName = name;
  return true;
}

let lastGoodIdName = '';
